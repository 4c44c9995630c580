// kvlab-kvstore and two kvlab-decode processes on loopback: a multi-turn
// session survives SIGKILL of its decode worker (the other worker continues
// from the kvstore checkpoint), and servers drain and exit 0 on SIGTERM.
#include <signal.h>

#include <chrono>
#include <thread>

#include <grpcpp/create_channel.h>

#include "absl/strings/str_cat.h"
#include "engine/generator.h"
#include "gtest/gtest.h"
#include "kvcache/entry_stream.h"
#include "kvlab/v1/kvstore.grpc.pb.h"
#include "services/common/served_model.h"
#include "services/compressor/compressor.h"
#include "services/decode/grpc_client.h"
#include "services/kvstore/grpc_client.h"
#include "services/prefill/prefiller.h"
#include "tests/util/test_util.h"
#include "tools/child_process.h"

namespace kvlab {
namespace {

using std::chrono::seconds;

constexpr char kToken[] = "takeover-token";

const char kContext[] =
    "<|begin_of_text|>Extract the value corresponding to the specified key in the JSON object below.\n"
    "{\"8a1f\": \"3c9e\", \"b7d2\": \"0f41\", \"c3a9\": \"77e1\"}";

std::vector<int32_t> Ids(const v1::TokenIds& t) { return std::vector<int32_t>(t.ids().begin(), t.ids().end()); }

class ProcessTakeoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::WriteFile(dir_.Join("token"), std::string(kToken) + "\n");
    auto served = LoadServedModel(testing::FixtureDir("tiny-llama3"));
    ASSERT_TRUE(served.ok()) << served.status();
    served_ = std::move(*served);
  }

  // Starts kvlab-<name> on a free port; waits until it accepts connections.
  std::unique_ptr<ChildProcess> Start(const std::string& name, std::vector<std::string> extra, int* port) {
    auto picked = PickFreePort();
    EXPECT_TRUE(picked.ok());
    *port = *picked;
    std::vector<std::string> argv = {std::string(KVLAB_BIN_DIR) + "/kvlab-" + name,
                                     absl::StrCat("--listen=127.0.0.1:", *port),
                                     "--auth_token_file=" + dir_.Join("token"), "--drain_seconds=5"};
    for (auto& e : extra) argv.push_back(std::move(e));
    const std::string log = dir_.Join(absl::StrCat(name, "-", *port, ".log"));
    auto child = ChildProcess::Start(argv, log);
    EXPECT_TRUE(child.ok()) << child.status();
    absl::Status ready = WaitForPort(*port, **child, std::chrono::seconds(60));
    EXPECT_TRUE(ready.ok()) << ready << "\n" << testing::ReadFile(log);
    return std::move(*child);
  }

  ClientOptions Options(int port, const std::string& name) {
    ClientOptions o;
    o.address = absl::StrCat("127.0.0.1:", port);
    o.peer_name = name;
    o.token = kToken;
    o.deadline = seconds(60);
    return o;
  }

  std::vector<int32_t> Encode(const std::string& text) { return *served_.tokenizer->Encode(text, false); }

  // Greedy tokens for `prompt` computed from scratch with the engine.
  std::vector<int32_t> Recompute(const std::vector<int32_t>& prompt, int max_new) {
    auto cache = served_.model->NewCache(static_cast<int64_t>(prompt.size()));
    GenerationOptions opts;
    opts.max_new_tokens = max_new;
    opts.eos_ids = served_.model->config().eos_token_ids;
    for (int32_t id : served_.tokenizer->eos_ids()) opts.eos_ids.push_back(id);
    auto r = Generate(*served_.model, **cache, prompt, served_.tokenizer.get(), opts);
    EXPECT_TRUE(r.ok()) << r.status();
    return r->tokens;
  }

  testing::TempDir dir_;
  ServedModel served_;
};

TEST_F(ProcessTakeoverTest, SessionContinuesOnAnotherWorkerAfterSigkill) {
  int kv_port = 0, a_port = 0, b_port = 0;
  auto kvstore = Start("kvstore", {"--capacity_mb=256"}, &kv_port);
  const std::string kv_address = absl::StrCat("--kvstore=127.0.0.1:", kv_port);
  const std::string model = "--model=" + testing::FixtureDir("tiny-llama3");
  auto worker_a = Start("decode", {model, kv_address}, &a_port);
  auto worker_b = Start("decode", {model, kv_address}, &b_port);

  // Prefill in this process, storing into the kvstore process.
  auto store = NewKvStoreClient(Options(kv_port, "kvstore"));
  ASSERT_TRUE(store.ok()) << store.status();
  auto compressor = NewLocalCompressor();
  auto prefill = NewLocalPrefiller(served_.model.get(), served_.tokenizer.get(), compressor.get(), store->get());
  const std::string q1 = "\nKey: \"b7d2\"\nValue:", gold1 = " \"0f41\"", q2 = "\nKey: \"8a1f\"\nValue:",
                    gold2 = " \"3c9e\"", q3 = "\nKey: \"c3a9\"\nValue:";
  v1::PrefillRequest prefill_request;
  prefill_request.mutable_context()->set_text(std::string(kContext) + q1);
  auto start = prefill->Prefill(prefill_request);
  ASSERT_TRUE(start.ok()) << start.status();
  std::vector<int32_t> history = Encode(std::string(kContext) + q1);

  auto decode_a = NewDecodeClient(Options(a_port, "decode A"));
  auto decode_b = NewDecodeClient(Options(b_port, "decode B"));
  ASSERT_TRUE(decode_a.ok() && decode_b.ok());
  auto turn = [&](DecodeWorker& worker, int n, const std::string& append) {
    v1::TurnRequest req;
    req.set_session_id("takeover");
    req.set_turn(n);
    req.mutable_generation()->set_max_new_tokens(8);
    if (n == 1) *req.mutable_start() = start->handle();
    if (n > 1) req.mutable_append()->set_text(append);
    return worker.Turn(req);
  };

  auto r1 = turn(**decode_a, 1, "");
  ASSERT_TRUE(r1.ok()) << r1.status();
  EXPECT_EQ(Ids(r1->tokens()), Recompute(history, 8));
  auto r2 = turn(**decode_a, 2, gold1 + q2);
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_FALSE(r2->resumed_from_checkpoint());
  for (int32_t id : Encode(gold1 + q2)) history.push_back(id);
  EXPECT_EQ(Ids(r2->tokens()), Recompute(history, 8));

  // Worker A dies without any chance to clean up.
  ASSERT_EQ(::kill(worker_a->pid(), SIGKILL), 0);
  for (int i = 0; i < 500 && worker_a->Running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_FALSE(worker_a->Running());
  EXPECT_EQ(worker_a->exit_code(), -SIGKILL);

  // Worker B continues the session from the checkpoint A wrote after turn 2.
  auto r3 = turn(**decode_b, 3, gold2 + q3);
  ASSERT_TRUE(r3.ok()) << r3.status();
  EXPECT_TRUE(r3->resumed_from_checkpoint());
  for (int32_t id : Encode(gold2 + q3)) history.push_back(id);
  EXPECT_EQ(Ids(r3->tokens()), Recompute(history, 8));
  EXPECT_EQ(r3->checkpoint().n_tokens(), static_cast<int64_t>(history.size()));

  // The dead worker's address gives UNAVAILABLE, not a hang.
  EXPECT_EQ(turn(**decode_a, 4, "x").status().code(), absl::StatusCode::kUnavailable);

  // SIGTERM: both servers drain and exit 0.
  EXPECT_EQ(worker_b->Stop(std::chrono::seconds(20)), 0);
  EXPECT_EQ(kvstore->Stop(std::chrono::seconds(20)), 0);
}

TEST_F(ProcessTakeoverTest, SigtermDrainsACallInFlightAndExitsZero) {
  int kv_port = 0;
  auto kvstore = Start("kvstore", {}, &kv_port);
  KvEntry entry;
  entry.header.set_format_version(kKvEntryFormatVersion);
  entry.header.set_model_fingerprint(std::string(32, 'b'));
  entry.header.set_num_layers(4);
  entry.header.set_num_kv_heads(1);
  for (int l = 0; l < 4; ++l) {
    entry.header.add_kept(1);
    entry.layers.push_back(std::string(3 << 20, static_cast<char>('a' + l)));
  }
  SealEntry(entry);
  std::vector<v1::KvChunk> chunks;
  ForEachChunk(entry, [&](const v1::KvChunk& c) {
    chunks.push_back(c);
    return true;
  });

  // A Put whose first half is sent before SIGTERM and second half after it:
  // the drain lets the call in flight finish.
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(16 << 20);
  auto channel = grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", kv_port), grpc::InsecureChannelCredentials(),
                                           args);
  auto stub = v1::KvStoreService::NewStub(channel);
  grpc::ClientContext context;
  context.AddMetadata("authorization", std::string("Bearer ") + kToken);
  context.set_deadline(std::chrono::system_clock::now() + seconds(60));
  v1::PutResponse response;
  auto writer = stub->Put(&context, &response);
  v1::PutRequest request;
  request.mutable_options()->set_name("drained");
  ASSERT_TRUE(writer->Write(request));
  for (size_t i = 0; i < chunks.size() / 2; ++i) {
    *request.mutable_chunk() = chunks[i];
    ASSERT_TRUE(writer->Write(request));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the call has reached the server
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(::kill(kvstore->pid(), SIGTERM), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(kvstore->Running());  // still draining: the Put is not done
  for (size_t i = chunks.size() / 2; i < chunks.size(); ++i) {
    *request.mutable_chunk() = chunks[i];
    ASSERT_TRUE(writer->Write(request));
  }
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.bytes(), 12 << 20);

  // It exits 0 once the call is done (--drain_seconds=5 bounds it; 20 s is a
  // hang check, not a timing assertion).
  for (int i = 0; i < 2000 && kvstore->Running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_FALSE(kvstore->Running());
  EXPECT_EQ(kvstore->exit_code(), 0);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 20.0);
}

}  // namespace
}  // namespace kvlab
