// The five services over gRPC on loopback (in-process servers): the full
// prefill -> compressor -> kvstore -> decode flow equals the all-local flow,
// entry streams are chunked and verified, and every bad input or fault gets
// its status code while the servers keep serving.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <future>
#include <thread>

#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>

#include "engine/generator.h"
#include "gtest/gtest.h"
#include "kvcache/entry_stream.h"
#include "kvlab/v1/kvstore.grpc.pb.h"
#include "services/common/grpc_status.h"
#include "services/common/served_model.h"
#include "services/common/server_runner.h"
#include "services/compressor/grpc_client.h"
#include "services/compressor/grpc_server.h"
#include "services/decode/grpc_client.h"
#include "services/decode/grpc_server.h"
#include "services/evaluator/grpc_client.h"
#include "services/evaluator/grpc_server.h"
#include "services/kvstore/grpc_client.h"
#include "services/kvstore/grpc_server.h"
#include "services/prefill/grpc_client.h"
#include "services/prefill/grpc_server.h"
#include "tests/integration/grpc_test_util.h"
#include "tests/util/forwarding_store.h"
#include "tests/util/test_util.h"
#include "spdlog/spdlog.h"

namespace kvlab {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kToken[] = "s3cret-token";

const char kContext[] =
    "<|begin_of_text|>Extract the value corresponding to the specified key in the JSON object below.\n"
    "{\"8a1f\": \"3c9e\", \"b7d2\": \"0f41\", \"c3a9\": \"77e1\"}";

std::vector<int32_t> Ids(const v1::TokenIds& t) { return std::vector<int32_t>(t.ids().begin(), t.ids().end()); }

double SecondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// A KvStore that serves a corrupted copy of every entry (header intact): what
// a bit flip between the store's verification and the wire looks like.
class CorruptingStore : public testing::ForwardingStore {
 public:
  explicit CorruptingStore(KvStore* inner) : ForwardingStore(*inner) {}
  absl::StatusOr<std::shared_ptr<const KvEntry>> Get(const std::string& id) override {
    auto entry = inner_.Get(id);
    if (!entry.ok()) return entry.status();
    auto copy = std::make_shared<KvEntry>(**entry);
    copy->layers.back()[copy->layers.back().size() / 2] ^= 0x40;
    return std::shared_ptr<const KvEntry>(copy);
  }
};

// Health check through a generic stub ("grpc.health.v1.Health/Check" with
// an empty request = the overall server status). Returns the raw status
// enum (1 = SERVING) or -code on an RPC error.
int HealthStatus(const std::string& address) {
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + seconds(10));
  grpc::Slice empty("");
  grpc::ByteBuffer request(&empty, 1), response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) { done.set_value(s); });
  grpc::Status status = done.get_future().get();
  if (!status.ok()) return -static_cast<int>(status.error_code());
  std::vector<grpc::Slice> slices;
  (void)response.Dump(&slices);
  std::string bytes;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  // HealthCheckResponse{status = N}: field 1 varint -> 0x08 N (empty = 0).
  if (bytes.size() >= 2 && bytes[0] == 0x08) return bytes[1];
  return 0;
}

class GrpcServicesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    spdlog::set_level(spdlog::level::warn);
    served_ = new ServedModel(std::move(*LoadServedModel(testing::FixtureDir("tiny-llama3"))));
  }
  static void TearDownTestSuite() {
    delete served_;
    served_ = nullptr;
  }

  void SetUp() override {
    local_store_ = NewLocalKvStore();
    local_compressor_ = NewLocalCompressor();
    KvStoreServiceOptions kv_options;
    kv_options.max_entry_bytes = 64ll << 20;
    kvstore_service_ = std::make_unique<KvStoreGrpcService>(local_store_.get(), Authenticator(kToken), kv_options);
    kvstore_server_ = StartServer({kvstore_service_.get()});
    compressor_service_ = std::make_unique<CompressorGrpcService>(local_compressor_.get(), Authenticator(kToken));
    compressor_server_ = StartServer({compressor_service_.get()});

    prefill_store_ = *NewKvStoreClient(Options(kvstore_server_->address(), "kvstore"));
    prefill_compressor_ = *NewCompressorClient(Options(compressor_server_->address(), "compressor"));
    PrefillOptions popts;
    popts.max_context_tokens = 400;
    prefiller_ = NewLocalPrefiller(model(), tokenizer(), prefill_compressor_.get(), prefill_store_.get(), popts);
    prefill_service_ = std::make_unique<PrefillGrpcService>(prefiller_.get(), Authenticator(kToken));
    prefill_server_ = StartServer({prefill_service_.get()});

    decode_store_ = *NewKvStoreClient(Options(kvstore_server_->address(), "kvstore"));
    DecodeOptions dopts;
    dopts.max_new_tokens = 64;
    dopts.max_query_tokens = 100;
    worker_ = NewLocalDecodeWorker(model(), tokenizer(), decode_store_.get(), dopts);
    decode_service_ = std::make_unique<DecodeGrpcService>(worker_.get(), Authenticator(kToken));
    decode_server_ = StartServer({decode_service_.get()});

    prefill_ = *NewPrefillClient(Options(prefill_server_->address(), "prefill"));
    decode_ = *NewDecodeClient(Options(decode_server_->address(), "decode"));
    kvstore_ = *NewKvStoreClient(Options(kvstore_server_->address(), "kvstore"));
  }

  static const Model* model() { return served_->model.get(); }
  static const Tokenizer* tokenizer() { return served_->tokenizer.get(); }

  static std::unique_ptr<GrpcServer> StartServer(const std::vector<grpc::Service*>& services,
                                                 ServerOptions options = {}) {
    options.listen = "127.0.0.1:0";
    if (options.max_message_bytes == (64ll << 20)) options.max_message_bytes = 8ll << 20;
    options.auth_token = kToken;
    auto server = GrpcServer::Start(options, services);
    EXPECT_TRUE(server.ok()) << server.status();
    return std::move(*server);
  }

  static ClientOptions Options(const std::string& address, const std::string& name, milliseconds deadline = seconds(60)) {
    ClientOptions o;
    o.address = address;
    o.peer_name = name;
    o.token = kToken;
    o.deadline = deadline;
    return o;
  }

  v1::PrefillResponse PrefillText(Prefiller& prefill, const std::string& text, const std::string& method = "") {
    v1::PrefillRequest req;
    req.mutable_context()->set_text(text);
    req.set_method_spec(method);
    auto r = prefill.Prefill(req);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : v1::PrefillResponse();
  }

  static v1::AnswerRequest AnswerRequest(const v1::CacheHandle& handle, const std::string& query, int max_new = 8) {
    v1::AnswerRequest req;
    *req.mutable_handle() = handle;
    req.mutable_query()->set_text(query);
    req.mutable_generation()->set_max_new_tokens(max_new);
    return req;
  }

  // A valid prefill + answer round trip through the gRPC clients.
  void ExpectServing() {
    v1::PrefillResponse p = PrefillText(*prefill_, kContext);
    auto a = decode_->Answer(AnswerRequest(p.handle(), "\nKey: \"b7d2\"\nValue:", 4));
    EXPECT_TRUE(a.ok()) << a.status();
  }

  static ServedModel* served_;
  std::unique_ptr<KvStore> local_store_;
  std::unique_ptr<Compressor> local_compressor_;
  std::unique_ptr<KvStoreGrpcService> kvstore_service_;
  std::unique_ptr<GrpcServer> kvstore_server_;
  std::unique_ptr<CompressorGrpcService> compressor_service_;
  std::unique_ptr<GrpcServer> compressor_server_;
  std::unique_ptr<KvStore> prefill_store_;
  std::unique_ptr<Compressor> prefill_compressor_;
  std::unique_ptr<Prefiller> prefiller_;
  std::unique_ptr<PrefillGrpcService> prefill_service_;
  std::unique_ptr<GrpcServer> prefill_server_;
  std::unique_ptr<KvStore> decode_store_;
  std::unique_ptr<DecodeWorker> worker_;
  std::unique_ptr<DecodeGrpcService> decode_service_;
  std::unique_ptr<GrpcServer> decode_server_;
  std::unique_ptr<Prefiller> prefill_;
  std::unique_ptr<DecodeWorker> decode_;
  std::unique_ptr<KvStore> kvstore_;
};

ServedModel* GrpcServicesTest::served_ = nullptr;

TEST_F(GrpcServicesTest, FullFlowOverGrpcEqualsTheLocalFlow) {
  auto store = NewLocalKvStore();
  auto compressor = NewLocalCompressor();
  auto local_prefill = NewLocalPrefiller(model(), tokenizer(), compressor.get(), store.get());
  auto local_decode = NewLocalDecodeWorker(model(), tokenizer(), store.get());

  for (const std::string method : {"", "kv=full{dtype=f16}"}) {
    SCOPED_TRACE(method);
    v1::PrefillResponse remote = PrefillText(*prefill_, kContext, method);
    v1::PrefillResponse local = PrefillText(*local_prefill, kContext, method);
    EXPECT_FALSE(remote.cache_hit());
    EXPECT_EQ(remote.handle().SerializeAsString(), local.handle().SerializeAsString());
    EXPECT_EQ(remote.usage().entry_bytes(), local.usage().entry_bytes());
    // The entry stored through the gRPC services equals the local one, byte for byte.
    auto remote_entry = kvstore_->Get(remote.handle().id());
    auto local_entry = store->Get(local.handle().id());
    ASSERT_TRUE(remote_entry.ok()) << remote_entry.status();
    ASSERT_TRUE(local_entry.ok());
    EXPECT_EQ((*remote_entry)->layers, (*local_entry)->layers);
    EXPECT_EQ((*remote_entry)->header.layer_checksums_size(), (*local_entry)->header.layer_checksums_size());

    for (const char* query : {"\nKey: \"b7d2\"\nValue:", "\nKey: \"c3a9\"\nValue:"}) {
      auto a = decode_->Answer(AnswerRequest(remote.handle(), query, 10));
      auto b = local_decode->Answer(AnswerRequest(local.handle(), query, 10));
      ASSERT_TRUE(a.ok()) << a.status();
      ASSERT_TRUE(b.ok()) << b.status();
      EXPECT_EQ(Ids(a->tokens()), Ids(b->tokens()));
      EXPECT_EQ(a->text(), b->text());
      EXPECT_GT(a->timings().fetch_ms(), 0);
    }
    EXPECT_TRUE(PrefillText(*prefill_, kContext, method).cache_hit());
  }

  // Multi-turn: the same turns over gRPC and locally.
  const std::string q1 = "\nKey: \"b7d2\"\nValue:", append2 = " \"0f41\"\nKey: \"8a1f\"\nValue:";
  v1::PrefillResponse remote = PrefillText(*prefill_, std::string(kContext) + q1);
  v1::PrefillResponse local = PrefillText(*local_prefill, std::string(kContext) + q1);
  for (int turn = 1; turn <= 2; ++turn) {
    v1::TurnRequest req;
    req.set_session_id("flow");
    req.set_turn(turn);
    req.mutable_generation()->set_max_new_tokens(6);
    if (turn == 1) *req.mutable_start() = remote.handle();
    if (turn == 2) req.mutable_append()->set_text(append2);
    auto a = decode_->Turn(req);
    if (turn == 1) *req.mutable_start() = local.handle();
    auto b = local_decode->Turn(req);
    ASSERT_TRUE(a.ok()) << a.status();
    ASSERT_TRUE(b.ok()) << b.status();
    EXPECT_EQ(Ids(a->tokens()), Ids(b->tokens()));
    EXPECT_EQ(a->checkpoint().n_tokens(), b->checkpoint().n_tokens());
  }
  EXPECT_TRUE(decode_->CloseSession("flow").ok());
  EXPECT_EQ(kvstore_->Stat(SessionCheckpointId("flow")).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(GrpcServicesTest, EntryStreamsAreChunkedAtMostFourMiBLayerByLayer) {
  // 3 layers of 9 MiB: each layer takes three chunks.
  KvEntry entry = testing::SyntheticEntry(3, 9 << 20, 7);
  auto put = kvstore_->Put(entry, {});
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(put->bytes(), 27 << 20);

  // A chunk of 4 MiB of data is a little over gRPC's default 4 MiB receive
  // limit: raw clients must raise it (kvlab's clients do).
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(8 << 20);
  auto channel = grpc::CreateCustomChannel(kvstore_server_->address(), grpc::InsecureChannelCredentials(), args);
  auto stub = v1::KvStoreService::NewStub(channel);
  grpc::ClientContext context;
  context.AddMetadata("authorization", std::string("Bearer ") + kToken);
  v1::GetRequest request;
  request.set_id(put->handle().id());
  auto reader = stub->Get(&context, request);
  v1::KvChunk chunk;
  int n = 0;
  int32_t last_layer = -1;
  int64_t expected_offset = 0;
  while (reader->Read(&chunk)) {
    if (n++ == 0) {
      EXPECT_TRUE(chunk.has_header());
      continue;
    }
    ASSERT_TRUE(chunk.has_layer());
    EXPECT_LE(static_cast<int64_t>(chunk.layer().data().size()), kMaxChunkBytes);
    if (chunk.layer().layer() != last_layer) {
      EXPECT_EQ(chunk.layer().layer(), last_layer + 1);
      last_layer = chunk.layer().layer();
      expected_offset = 0;
    }
    EXPECT_EQ(chunk.layer().offset(), expected_offset);
    expected_offset += static_cast<int64_t>(chunk.layer().data().size());
  }
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_EQ(n, 1 + 3 * 3);
  EXPECT_EQ(last_layer, 2);

  // A client sending small chunks; the round trip is exact.
  ClientOptions small = Options(kvstore_server_->address(), "kvstore");
  small.max_chunk_bytes = 1000;
  auto small_client = NewKvStoreClient(small);
  ASSERT_TRUE(small_client.ok());
  KvEntry other = testing::SyntheticEntry(2, 12345, 8);
  v1::PutOptions named;
  named.set_name("small-chunks");
  ASSERT_TRUE((*small_client)->Put(other, named).ok());
  auto back = kvstore_->Get("small-chunks");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ((*back)->layers, other.layers);
  EXPECT_EQ((*back)->header.SerializeAsString(), other.header.SerializeAsString());
  auto big = (*small_client)->Get(put->handle().id());
  ASSERT_TRUE(big.ok());
  EXPECT_EQ((*big)->layers, entry.layers);

  ClientOptions too_big = small;
  too_big.max_chunk_bytes = kMaxChunkBytes + 1;
  EXPECT_EQ(NewKvStoreClient(too_big).status().code(), absl::StatusCode::kInvalidArgument);
}

// Co-located services can talk over a Unix domain socket: the same calls,
// the same bytes; a stale socket file is replaced.
TEST_F(GrpcServicesTest, KvStoreServesOverAUnixSocket) {
  const std::string path = ::testing::TempDir() + "kvlab-unix-" + std::to_string(getpid()) + ".sock";
  ServerOptions options;
  options.listen = "unix:" + path;
  options.auth_token = kToken;
  // Not a socket: left alone, and the server cannot start.
  { std::ofstream regular(path); }
  EXPECT_EQ(GrpcServer::Start(options, {}).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(::access(path.c_str(), F_OK), 0);
  std::remove(path.c_str());
  // A socket left by a server that died is replaced.
  const int stale = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
  ASSERT_EQ(::bind(stale, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ::close(stale);
  auto server = GrpcServer::Start(options, {kvstore_service_.get()});
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ((*server)->address(), "unix:" + path);
  EXPECT_EQ((*server)->port(), 0);
  auto client = NewKvStoreClient(Options((*server)->address(), "kvstore"));
  ASSERT_TRUE(client.ok()) << client.status();
  KvEntry entry = testing::SyntheticEntry(3, (5 << 20) + 17, 21);
  auto put = (*client)->Put(entry, {});
  ASSERT_TRUE(put.ok()) << put.status();
  auto back = (*client)->Get(put->handle().id());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ((*back)->layers, entry.layers);
  EXPECT_EQ((*client)->Get("no-such-entry").status().code(), absl::StatusCode::kNotFound);
  (*server)->Shutdown(milliseconds(0));
  std::remove(path.c_str());

  options.listen = "unix:";
  EXPECT_EQ(GrpcServer::Start(options, {}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(GrpcServicesTest, CorruptionInTransitIsDataLossNeverServed) {
  // Client -> server: a layer chunk altered on the way.
  KvEntry entry = testing::SyntheticEntry(2, 5 << 20, 3);
  auto channel = grpc::CreateChannel(kvstore_server_->address(), grpc::InsecureChannelCredentials());
  auto stub = v1::KvStoreService::NewStub(channel);
  {
    grpc::ClientContext context;
    context.AddMetadata("authorization", std::string("Bearer ") + kToken);
    v1::PutResponse response;
    auto writer = stub->Put(&context, &response);
    int n = 0;
    ForEachChunk(entry, [&](const v1::KvChunk& chunk) {
      v1::PutRequest req;
      *req.mutable_chunk() = chunk;
      if (++n == 3) (*req.mutable_chunk()->mutable_layer()->mutable_data())[100] ^= 1;
      return writer->Write(req);
    });
    writer->WritesDone();
    grpc::Status status = writer->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::DATA_LOSS) << status.error_message();
  }
  EXPECT_EQ(kvstore_->List({})->entries_size(), 0);
  ASSERT_TRUE(kvstore_->Put(entry, {}).ok());  // the store still serves

  // Server -> client: a kvstore whose bytes go bad after its own check.
  CorruptingStore corrupting(local_store_.get());
  KvStoreGrpcService bad_service(&corrupting, Authenticator(kToken));
  auto bad_server = StartServer({&bad_service});
  auto bad_client = *NewKvStoreClient(Options(bad_server->address(), "kvstore"));
  const std::string id = kvstore_->List({})->entries(0).handle().id();
  auto got = bad_client->Get(id);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss) << got.status();
  EXPECT_NE(got.status().message().find("checksum"), std::string::npos) << got.status();

  // A decode worker fed by that store refuses to answer from it.
  v1::PrefillResponse p = PrefillText(*prefill_, kContext);
  auto worker = NewLocalDecodeWorker(model(), tokenizer(), bad_client.get());
  DecodeGrpcService decode_service(worker.get(), Authenticator(kToken));
  auto decode_server = StartServer({&decode_service});
  auto decode = *NewDecodeClient(Options(decode_server->address(), "decode"));
  auto answer = decode->Answer(AnswerRequest(p.handle(), "\nKey:"));
  EXPECT_EQ(answer.status().code(), absl::StatusCode::kDataLoss) << answer.status();
  ExpectServing();
}

TEST_F(GrpcServicesTest, EntryOfAnotherModelIsRefused) {
  v1::PrefillResponse p = PrefillText(*prefill_, kContext);
  auto qwen = LoadServedModel(testing::FixtureDir("tiny-qwen2"));
  ASSERT_TRUE(qwen.ok()) << qwen.status();
  auto store = *NewKvStoreClient(Options(kvstore_server_->address(), "kvstore"));
  auto worker = NewLocalDecodeWorker(qwen->model.get(), nullptr, store.get());
  DecodeGrpcService service(worker.get(), Authenticator(kToken));
  auto server = StartServer({&service});
  auto decode = *NewDecodeClient(Options(server->address(), "decode"));
  v1::AnswerRequest req;
  *req.mutable_handle() = p.handle();
  req.mutable_query()->mutable_tokens()->add_ids(5);
  req.mutable_generation()->set_max_new_tokens(2);
  auto r = decode->Answer(req);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();
  EXPECT_NE(r.status().message().find(model()->fingerprint().ToHex()), std::string::npos) << r.status();

  v1::PrefillRequest wrong;
  wrong.mutable_model()->set_fingerprint(std::string(32, '0'));
  wrong.mutable_context()->set_text(kContext);
  EXPECT_EQ(prefill_->Prefill(wrong).status().code(), absl::StatusCode::kFailedPrecondition);
  ExpectServing();
}

TEST_F(GrpcServicesTest, BadInputsGetTheirCodesAndTheServersKeepServing) {
  // Unknown cache handle.
  v1::CacheHandle unknown;
  unknown.set_id("0123456789abcdef0123456789abcdef");
  auto r = decode_->Answer(AnswerRequest(unknown, "\nKey:"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound) << r.status();
  ExpectServing();
  EXPECT_EQ(kvstore_->Stat("nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(kvstore_->Delete("nope").code(), absl::StatusCode::kNotFound);
  ExpectServing();

  // Context over --max_context_tokens.
  v1::PrefillRequest big;
  for (int i = 0; i < 500; ++i) big.mutable_context()->mutable_tokens()->add_ids(7);
  auto p = prefill_->Prefill(big);
  EXPECT_EQ(p.status().code(), absl::StatusCode::kResourceExhausted) << p.status();
  EXPECT_NE(p.status().message().find("--max_context_tokens"), std::string::npos) << p.status();
  ExpectServing();

  // A request larger than the server's message limit (8 MiB here).
  v1::PrefillRequest huge;
  huge.mutable_context()->set_text(std::string(9 << 20, 'x'));
  p = prefill_->Prefill(huge);
  EXPECT_EQ(p.status().code(), absl::StatusCode::kResourceExhausted) << p.status();
  EXPECT_NE(p.status().message().find(std::to_string(8 << 20)), std::string::npos) << p.status();
  ExpectServing();

  // An entry over the store's capacity is refused as its header arrives.
  KvEntry too_big = testing::SyntheticEntry(17, 4 << 20, 9);
  auto put = kvstore_->Put(too_big, {});
  EXPECT_EQ(put.status().code(), absl::StatusCode::kResourceExhausted) << put.status();
  EXPECT_NE(put.status().message().find("--capacity_mb"), std::string::npos) << put.status();
  ExpectServing();

  // Malformed method specs, at the prefill and at the compressor.
  for (const char* spec : {"prefill=dense;kv=snapkv{", "kv=full;colour=blue", "kv=nosuchpolicy"}) {
    v1::PrefillRequest req;
    req.mutable_context()->set_text(kContext);
    req.set_method_spec(spec);
    EXPECT_EQ(prefill_->Prefill(req).status().code(), absl::StatusCode::kInvalidArgument) << spec;
    auto c = prefill_compressor_->Compress(CompressInput{testing::SyntheticEntry(1, 100), {}}, spec);
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << spec << ": " << c.status();
  }
  ExpectServing();

  // Generation and query limits of the decode worker.
  v1::PrefillResponse ok = PrefillText(*prefill_, kContext);
  auto a = decode_->Answer(AnswerRequest(ok.handle(), "\nKey:", 65));
  EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument) << a.status();
  EXPECT_NE(a.status().message().find("--max_new_tokens"), std::string::npos) << a.status();
  v1::AnswerRequest long_query = AnswerRequest(ok.handle(), "", 4);
  for (int i = 0; i < 101; ++i) long_query.mutable_query()->mutable_tokens()->add_ids(9);
  a = decode_->Answer(long_query);
  EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument) << a.status();
  EXPECT_NE(a.status().message().find("--max_query_tokens"), std::string::npos) << a.status();
  v1::AnswerRequest empty = AnswerRequest(ok.handle(), "", 4);
  EXPECT_EQ(decode_->Answer(empty).status().code(), absl::StatusCode::kInvalidArgument);
  v1::TurnRequest bad_turn;
  bad_turn.set_session_id("bad id!");
  bad_turn.set_turn(1);
  bad_turn.mutable_generation()->set_max_new_tokens(2);
  EXPECT_EQ(decode_->Turn(bad_turn).status().code(), absl::StatusCode::kInvalidArgument);
  ExpectServing();
}

TEST_F(GrpcServicesTest, AuthNeedsTheRightBearerTokenButHealthIsOpen) {
  ClientOptions none = Options(kvstore_server_->address(), "kvstore");
  none.token = "";
  ClientOptions wrong = none;
  wrong.token = "not-the-token";
  for (const ClientOptions& o : {none, wrong}) {
    auto store = *NewKvStoreClient(o);
    auto s = store->Stat("x");
    EXPECT_EQ(s.status().code(), absl::StatusCode::kUnauthenticated) << s.status();
    auto put = store->Put(testing::SyntheticEntry(1, 100), {});
    EXPECT_EQ(put.status().code(), absl::StatusCode::kUnauthenticated) << put.status();
    ClientOptions d = o;
    d.address = decode_server_->address();
    auto decode = *NewDecodeClient(d);
    EXPECT_EQ(decode->CloseSession("x").code(), absl::StatusCode::kUnauthenticated);
  }
  EXPECT_EQ(kvstore_->List({})->entries_size(), 0);
  EXPECT_EQ(kvstore_->Stat("x").status().code(), absl::StatusCode::kNotFound);  // right token
  ExpectServing();
  EXPECT_EQ(HealthStatus(kvstore_server_->address()), 1);  // SERVING, no token needed
  EXPECT_EQ(HealthStatus(decode_server_->address()), 1);
}

TEST_F(GrpcServicesTest, APeerThatIsDownGivesUnavailableNotAHang) {
  const std::string dead = "127.0.0.1:" + std::to_string(testing::UnusedPort());
  // Direct client to nothing.
  auto t0 = std::chrono::steady_clock::now();
  auto store = *NewKvStoreClient(Options(dead, "kvstore", seconds(2)));
  EXPECT_EQ(store->Stat("x").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(store->Get("x").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_LT(SecondsSince(t0), 10.0);

  // A prefill server whose kvstore and compressor are down.
  auto dead_store = *NewKvStoreClient(Options(dead, "kvstore"));
  auto dead_compressor = *NewCompressorClient(Options(dead, "compressor"));
  auto prefiller = NewLocalPrefiller(model(), tokenizer(), dead_compressor.get(), dead_store.get());
  PrefillGrpcService service(prefiller.get(), Authenticator(kToken));
  auto server = StartServer({&service});
  auto prefill = *NewPrefillClient(Options(server->address(), "prefill", seconds(2)));
  for (bool no_reuse : {false, true}) {
    v1::PrefillRequest req;
    req.mutable_context()->set_text(kContext);
    req.set_no_reuse(no_reuse);
    t0 = std::chrono::steady_clock::now();
    auto r = prefill->Prefill(req);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
    EXPECT_NE(r.status().message().find(dead), std::string::npos) << r.status();
    EXPECT_LT(SecondsSince(t0), 10.0);
  }

  // The kvstore goes away under a running decode worker.
  v1::PrefillResponse p = PrefillText(*prefill_, kContext);
  kvstore_server_->Shutdown(milliseconds(0));
  auto decode = *NewDecodeClient(Options(decode_server_->address(), "decode", seconds(2)));
  t0 = std::chrono::steady_clock::now();
  auto a = decode->Answer(AnswerRequest(p.handle(), "\nKey:"));
  EXPECT_EQ(a.status().code(), absl::StatusCode::kUnavailable) << a.status();
  EXPECT_LT(SecondsSince(t0), 10.0);

  // A peer that accepts connections but never answers: the deadline ends it.
  const int silent_fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(silent_fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(silent_fd, 4), 0);
  socklen_t len = sizeof(addr);
  ::getsockname(silent_fd, reinterpret_cast<sockaddr*>(&addr), &len);
  auto silent = *NewKvStoreClient(Options("127.0.0.1:" + std::to_string(ntohs(addr.sin_port)), "kvstore", seconds(2)));
  t0 = std::chrono::steady_clock::now();
  auto s = silent->Stat("x");
  EXPECT_TRUE(s.status().code() == absl::StatusCode::kUnavailable ||
              s.status().code() == absl::StatusCode::kDeadlineExceeded)
      << s.status();
  EXPECT_LT(SecondsSince(t0), 10.0);
  ::close(silent_fd);
}

TEST_F(GrpcServicesTest, EvaluatorServiceRoundTrip) {
  // An evaluator server over a fake evaluator: the calls and the watch stream
  // reach it and come back intact.
  class FakeEvaluator : public Evaluator {
   public:
    absl::StatusOr<v1::JobStatus> SubmitJob(const v1::SubmitJobRequest& request) override {
      if (request.job_json().empty()) return absl::InvalidArgumentError("job_json is empty");
      v1::JobStatus s;
      s.set_job_id("job-1");
      s.set_state(v1::JobStatus::QUEUED);
      return s;
    }
    absl::Status WatchJob(const std::string& job_id,
                          const std::function<bool(const v1::JobStatus&)>& on_update) override {
      if (job_id != "job-1") return absl::NotFoundError("no job");
      for (int i = 0; i <= 3; ++i) {
        v1::JobStatus s;
        s.set_job_id(job_id);
        s.set_turns_done(i);
        s.set_turns_total(3);
        s.set_state(i == 3 ? v1::JobStatus::SUCCEEDED : v1::JobStatus::RUNNING);
        if (!on_update(s)) return absl::OkStatus();
      }
      return absl::OkStatus();
    }
    absl::StatusOr<v1::ListJobsResponse> ListJobs() override {
      v1::ListJobsResponse r;
      r.add_jobs()->set_job_id("job-1");
      return r;
    }
    absl::StatusOr<v1::JobStatus> CancelJob(const std::string& job_id) override {
      return absl::NotFoundError("no job '" + job_id + "'");
    }
  } fake;
  EvaluatorGrpcService service(&fake, Authenticator(kToken));
  auto server = StartServer({&service});
  auto client = *NewEvaluatorClient(Options(server->address(), "evaluator"));
  v1::SubmitJobRequest submit;
  EXPECT_EQ(client->SubmitJob(submit).status().code(), absl::StatusCode::kInvalidArgument);
  submit.set_job_json("{}");
  auto job = client->SubmitJob(submit);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->job_id(), "job-1");
  std::vector<int64_t> seen;
  ASSERT_TRUE(client->WatchJob("job-1", [&](const v1::JobStatus& s) {
                      seen.push_back(s.turns_done());
                      return true;
                    }).ok());
  EXPECT_EQ(seen, (std::vector<int64_t>{0, 1, 2, 3}));
  seen.clear();
  ASSERT_TRUE(client->WatchJob("job-1", [&](const v1::JobStatus& s) {
                      seen.push_back(s.turns_done());
                      return false;
                    }).ok());
  EXPECT_EQ(seen.size(), 1u);
  EXPECT_EQ(client->WatchJob("job-2", [](const v1::JobStatus&) { return true; }).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(client->ListJobs()->jobs_size(), 1);
  EXPECT_EQ(client->CancelJob("x").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(GrpcServicesTest, TlsWithASelfSignedCertificate) {
  if (std::system("command -v openssl > /dev/null 2>&1") != 0) GTEST_SKIP() << "openssl is not installed";
  testing::TempDir dir;
  const std::string cert = dir.Join("cert.pem"), key = dir.Join("key.pem");
  const std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
                          "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout " +
                          key + " -out " + cert + " > " + dir.Join("openssl.log") + " 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << testing::ReadFile(dir.Join("openssl.log"));

  ServerOptions tls;
  tls.tls_cert_file = cert;
  tls.tls_key_file = key;
  auto server = StartServer({kvstore_service_.get()}, tls);
  ClientOptions o = Options(server->address(), "kvstore");
  o.tls_ca_file = cert;
  o.tls_server_name = "localhost";
  auto client = *NewKvStoreClient(o);
  KvEntry entry = testing::SyntheticEntry(2, 5 << 20, 11);
  auto put = client->Put(entry, {});
  ASSERT_TRUE(put.ok()) << put.status();
  auto got = client->Get(put->handle().id());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ((*got)->layers, entry.layers);
  EXPECT_EQ(client->Stat("nope").status().code(), absl::StatusCode::kNotFound);

  // The token is still required over TLS.
  ClientOptions no_token = o;
  no_token.token = "";
  EXPECT_EQ((*NewKvStoreClient(no_token))->Stat("nope").status().code(), absl::StatusCode::kUnauthenticated);
  // A plaintext client cannot talk to the TLS server.
  ClientOptions plain = Options(server->address(), "kvstore", seconds(2));
  const absl::Status refused = (*NewKvStoreClient(plain))->Stat("nope").status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(refused.message().find("does the peer serve TLS"), std::string::npos) << refused;
  // A garbled certificate file is named, not reported as "cannot listen".
  testing::WriteFile(dir.Join("bad.pem"), "not a certificate\n");
  ServerOptions bad = tls;
  bad.tls_cert_file = dir.Join("bad.pem");
  bad.listen = "127.0.0.1:0";
  auto refused_server = GrpcServer::Start(bad, {kvstore_service_.get()});
  EXPECT_EQ(refused_server.status().code(), absl::StatusCode::kInvalidArgument) << refused_server.status();
  EXPECT_NE(refused_server.status().message().find("bad.pem' holds no PEM CERTIFICATE"), std::string::npos)
      << refused_server.status();
  // The IP address is in the certificate too.
  o.tls_server_name = "";
  EXPECT_EQ((*NewKvStoreClient(o))->Stat("nope").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace kvlab
