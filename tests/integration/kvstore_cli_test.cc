// kvlab-store (the store CLI) against a running kvstore: an in-process
// KvStoreGrpcService over a TieredKvStore on a loopback port, and the
// kvlab-kvstore binary with tier flags. The CLI runs as a process.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "absl/strings/str_cat.h"
#include "engine/tokenizer/tokenizer.h"
#include "nlohmann/json.hpp"
#include "services/common/server_runner.h"
#include "services/kvstore/grpc_client.h"
#include "services/kvstore/grpc_server.h"
#include "services/kvstore/tiered_store.h"
#include "tests/integration/grpc_test_util.h"
#include "tests/util/free_port.h"
#include "tests/util/redis_server.h"
#include "tests/util/test_util.h"
#include "tools/child_process.h"

namespace kvlab {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

constexpr char kText[] = "The quick brown fox jumps over the lazy dog near the riverbank.";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// An entry with real KvLayer messages: head k of layer l keeps the
// kept[l][k] positions spread evenly over the context, with random payload.
KvEntry MakeEntry(const std::vector<int32_t>& tokens, const std::string& fingerprint, const std::string& method,
                  const std::vector<std::vector<int>>& kept, uint32_t seed, int payload_per_row = 64) {
  KvEntry e;
  e.header.set_format_version(kKvEntryFormatVersion);
  e.header.set_model_fingerprint(fingerprint);
  e.header.set_method_spec(method);
  e.header.set_codec("f16");
  for (int32_t t : tokens) e.header.add_tokens(t);
  e.header.set_num_layers(static_cast<int64_t>(kept.size()));
  e.header.set_num_kv_heads(static_cast<int64_t>(kept[0].size()));
  e.header.set_head_dim(16);
  e.header.set_next_position(static_cast<int64_t>(tokens.size()));
  e.header.set_created_unix_ms(1700000000000 + seed);
  std::mt19937 rng(seed);
  const int n = static_cast<int>(tokens.size());
  for (const auto& heads : kept) {
    v1::KvLayer layer;
    for (int k : heads) {
      e.header.add_kept(k);
      v1::KvHead* head = layer.add_heads();
      for (int i = 0; i < k; ++i) head->add_positions(static_cast<int32_t>(static_cast<int64_t>(i) * n / k));
      std::string payload(static_cast<size_t>(k * payload_per_row), '\0');
      for (char& c : payload) c = static_cast<char>(rng());
      head->set_payload(payload);
    }
    e.layers.push_back(layer.SerializeAsString());
  }
  SealEntry(e);
  return e;
}

struct CliResult {
  int code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
  nlohmann::json Json() const {
    try {
      return nlohmann::json::parse(out);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not JSON (" << e.what() << "): " << out << err;
      return nullptr;
    }
  }
  int err_lines() const { return static_cast<int>(std::count(err.begin(), err.end(), '\n')); }
};

// Runs `argv` with stdout and stderr in files under `dir`; waits up to 60 s.
CliResult RunProcess(const std::vector<std::string>& argv, const std::string& dir, int n) {
  const std::string out_path = absl::StrCat(dir, "/run-", n, ".out"), err_path = absl::StrCat(dir, "/run-", n, ".err");
  CliResult result;
  std::vector<char*> args;  // built before fork: the child only opens, dups and execs
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(out, STDOUT_FILENO);
    ::dup2(err, STDERR_FILENO);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  EXPECT_GT(pid, 0);
  int status = 0;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > give_up) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      ADD_FAILURE() << argv[0] << " did not finish within 60 s";
      return result;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  result.code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  result.out = ReadAll(out_path);
  result.err = ReadAll(err_path);
  return result;
}

class StoreCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::unsetenv("KVLAB_AUTH_TOKEN");
    auto tokenizer = Tokenizer::FromModelDir(testing::FixtureDir("tiny-llama3"));
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
    auto ids = (*tokenizer)->Encode(kText, /*add_special_tokens=*/false);
    ASSERT_TRUE(ids.ok());
    tokens_ = *ids;
    ASSERT_GE(tokens_.size(), 8u);
  }

  // Serves a tiered store with `options` (and `token`, if any) on loopback.
  void Serve(const TieredStoreOptions& options, const std::string& token = "") {
    auto store = NewTieredKvStore(options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    service_ = std::make_unique<KvStoreGrpcService>(store_.get(), Authenticator(token));
    ServerOptions server_options;
    server_options.listen = "127.0.0.1:0";
    server_options.auth_token = token;
    auto server = GrpcServer::Start(server_options, {service_.get()});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    address_ = server_->address();
  }

  // Runs kvlab-store with --store=<the server> (unless args name one).
  CliResult Run(std::vector<std::string> args) {
    std::vector<std::string> argv{KVLAB_STORE_BIN};
    bool has_store = false;
    for (const auto& a : args) has_store |= a.starts_with("--store=");
    if (!has_store) argv.push_back("--store=" + address_);
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProcess(argv, dir_.path(), runs_++);
  }

  std::string Put(const KvEntry& entry, const std::string& name = "") {
    v1::PutOptions options;
    options.set_name(name);
    auto put = store_->Put(entry, options);
    EXPECT_TRUE(put.ok()) << put.status();
    return put.ok() ? put->handle().id() : "";
  }

  static std::vector<std::string> Ids(const nlohmann::json& ls) {
    std::vector<std::string> ids;
    for (const auto& e : ls["entries"]) ids.push_back(e["id"].get<std::string>());
    return ids;
  }

  std::vector<int32_t> Tokens(int repeat) const {
    std::vector<int32_t> t;
    for (int r = 0; r < repeat; ++r) t.insert(t.end(), tokens_.begin(), tokens_.end());
    return t;
  }

  testing::TempDir dir_;
  std::vector<int32_t> tokens_;
  std::unique_ptr<TieredKvStore> store_;
  std::unique_ptr<KvStoreGrpcService> service_;
  std::unique_ptr<GrpcServer> server_;
  std::string address_;
  int runs_ = 0;
};

const std::string kModelA(32, 'a');
const std::string kModelB(32, 'b');
constexpr char kFull[] = "prefill=dense;kv=full;decode=none;prompt=none";
constexpr char kSnap[] = "prefill=dense;kv=snapkv{budget=8};decode=none;prompt=none";

TEST_F(StoreCliTest, LsListsExactlyTheEntriesWithFiltersAndSorting) {
  const KvEntry a = MakeEntry(Tokens(1), kModelA, kFull, {{8, 8}, {8, 8}}, 1);
  const KvEntry b = MakeEntry(Tokens(1), kModelB, kSnap, {{4, 2}, {3, 1}}, 2);
  const KvEntry c = MakeEntry(Tokens(2), kModelA, kSnap, {{16, 12}, {10, 14}}, 3, 256);
  TieredStoreOptions options;
  // Room for b and c only: a, the least recently used, is demoted to disk.
  options.host_capacity_bytes = b.payload_bytes() + c.payload_bytes();
  options.disk.dir = dir_.Join("disk");
  options.disk.fsync = false;
  ASSERT_NO_FATAL_FAILURE(Serve(options));
  const std::string ia = Put(a), ib = Put(b), ic = Put(c);

  CliResult all = Run({"ls", "--json"});
  ASSERT_EQ(all.code, 0) << all.err;
  const nlohmann::json ls = all.Json();
  EXPECT_THAT(Ids(ls), UnorderedElementsAre(ia, ib, ic));
  std::map<std::string, nlohmann::json> by_id;
  for (const auto& e : ls["entries"]) by_id[e["id"]] = e;
  EXPECT_EQ(by_id[ic]["bytes"], c.payload_bytes());
  EXPECT_EQ(by_id[ic]["method_spec"], kSnap);
  EXPECT_EQ(by_id[ic]["model_fingerprint"], kModelA);
  EXPECT_EQ(by_id[ic]["codec"], "f16");
  EXPECT_EQ(by_id[ic]["n_tokens"], static_cast<int64_t>(2 * tokens_.size()));
  EXPECT_EQ(by_id[ic]["tier"], "host");
  EXPECT_EQ(by_id[ia]["tier"], "disk");
  EXPECT_EQ(by_id[ia]["pinned"], false);
  EXPECT_EQ(by_id[ia]["created_unix_ms"], 1700000000001);
  EXPECT_GT(by_id[ia]["last_access_unix_ms"].get<int64_t>(), 0);

  EXPECT_THAT(Ids(Run({"ls", "--json", "--model=aaaa"}).Json()), UnorderedElementsAre(ia, ic));
  EXPECT_THAT(Ids(Run({"ls", "--json", "--method=kv=full"}).Json()), UnorderedElementsAre(ia));
  EXPECT_THAT(Ids(Run({"ls", "--json", "--model=" + kModelA, "--method=kv=snapkv{budget=8}"}).Json()),
              UnorderedElementsAre(ic));
  EXPECT_THAT(Ids(Run({"ls", "--json", "--tier=disk"}).Json()), UnorderedElementsAre(ia));
  EXPECT_THAT(Ids(Run({"ls", "--json", "--tier=host"}).Json()), UnorderedElementsAre(ib, ic));
  EXPECT_TRUE(Ids(Run({"ls", "--json", "--model=cc"}).Json()).empty());

  std::vector<std::string> by_size = Ids(Run({"ls", "--json", "--sort=size"}).Json());
  ASSERT_EQ(by_size.size(), 3u);
  EXPECT_EQ(by_size[0], ic);
  EXPECT_EQ(by_size[2], ib);
  EXPECT_EQ(Ids(Run({"ls", "--json", "--sort=age"}).Json()), (std::vector<std::string>{ia, ib, ic}));

  CliResult text = Run({"ls"});
  ASSERT_EQ(text.code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("ID"));
  EXPECT_THAT(text.out, HasSubstr("METHOD"));
  for (const auto& id : {ia, ib, ic}) EXPECT_THAT(text.out, HasSubstr(id));
  EXPECT_THAT(text.out, HasSubstr("3 entries"));

  CliResult bad_sort = Run({"ls", "--sort=color"});
  EXPECT_EQ(bad_sort.code, 2);
  EXPECT_THAT(bad_sort.err, HasSubstr("--sort"));
}

TEST_F(StoreCliTest, StatAndShowReportTheEntry) {
  ASSERT_NO_FATAL_FAILURE(Serve(TieredStoreOptions{}));
  const std::vector<std::vector<int>> kept{{10, 4, 7}, {2, 9, 1}, {5, 5, 5}};
  const KvEntry entry = MakeEntry(Tokens(1), kModelA, kSnap, kept, 7);
  const std::string id = Put(entry);

  CliResult stat = Run({"stat", id, "--json"});
  ASSERT_EQ(stat.code, 0) << stat.err;
  EXPECT_EQ(stat.Json()["id"], id);
  EXPECT_EQ(stat.Json()["bytes"], entry.payload_bytes());
  EXPECT_EQ(stat.Json()["tiers"], nlohmann::json::array({"host"}));

  CliResult show = Run({"show", id, "--json", "--model_dir=" + testing::FixtureDir("tiny-llama3")});
  ASSERT_EQ(show.code, 0) << show.err;
  const nlohmann::json j = show.Json();
  EXPECT_EQ(j["num_layers"], 3);
  EXPECT_EQ(j["num_kv_heads"], 3);
  EXPECT_EQ(j["kept_per_head"], nlohmann::json(kept));
  EXPECT_EQ(j["kept_per_layer"], nlohmann::json::array({21, 12, 15}));
  EXPECT_EQ(j["positions_match_header"], true);
  EXPECT_EQ(j["checksums"], "ok");
  EXPECT_EQ(j["bytes_per_tier"]["host"], entry.payload_bytes());
  int64_t rows = 0;
  for (const auto& bucket : j["position_histogram"]) rows += bucket["kept_rows"].get<int64_t>();
  EXPECT_EQ(rows, 21 + 12 + 15);
  EXPECT_THAT(j["preview"].get<std::string>(), HasSubstr("quick brown fox"));

  CliResult text = Run({"show", id, "--model_dir=" + testing::FixtureDir("tiny-llama3")});
  ASSERT_EQ(text.code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("kept tokens per layer and KV head"));
  EXPECT_THAT(text.out, HasSubstr("kept positions over the context"));
  EXPECT_THAT(text.out, HasSubstr("|#"));
  EXPECT_THAT(text.out, HasSubstr(kText));
  EXPECT_THAT(text.out, HasSubstr("checksums"));

  CliResult no_model = Run({"show", id});
  ASSERT_EQ(no_model.code, 0) << no_model.err;
  EXPECT_THAT(no_model.out, HasSubstr("--model_dir"));
}

TEST_F(StoreCliTest, PinnedEntrySurvivesEvictionAndRmRemoves) {
  std::vector<KvEntry> entries;
  for (uint32_t i = 0; i < 4; ++i) entries.push_back(MakeEntry(Tokens(1 + static_cast<int>(i)), kModelA, kSnap, {{8, 8}}, 10 + i));
  TieredStoreOptions options;
  int64_t largest = 0;
  for (const KvEntry& e : entries) largest = std::max(largest, e.payload_bytes());
  options.host_capacity_bytes = largest * 5 / 2;  // two entries, no slower tier
  ASSERT_NO_FATAL_FAILURE(Serve(options));
  const std::string first = Put(entries[0]);
  CliResult pin = Run({"pin", first});
  ASSERT_EQ(pin.code, 0) << pin.err;
  std::vector<std::string> others;
  for (size_t i = 1; i < entries.size(); ++i) others.push_back(Put(entries[i]));

  EXPECT_EQ(Run({"stat", first}).code, 0) << "the pinned entry was evicted";
  EXPECT_EQ(Run({"stat", others[0]}).code, 1) << "nothing was evicted: the test proves nothing";
  const nlohmann::json ls = Run({"ls", "--json"}).Json();
  EXPECT_THAT(Ids(ls), UnorderedElementsAre(first, others[2]));
  for (const auto& e : ls["entries"]) EXPECT_EQ(e["pinned"], e["id"] == first);

  CliResult rm_pinned = Run({"rm", first});
  EXPECT_EQ(rm_pinned.code, 1);
  EXPECT_THAT(rm_pinned.err, HasSubstr("FAILED_PRECONDITION"));
  ASSERT_EQ(Run({"unpin", first}).code, 0);
  CliResult rm = Run({"rm", first});
  ASSERT_EQ(rm.code, 0) << rm.err;
  EXPECT_THAT(rm.out, HasSubstr("removed " + first));
  CliResult gone = Run({"stat", first});
  EXPECT_EQ(gone.code, 1);
  EXPECT_THAT(gone.err, HasSubstr("NOT_FOUND"));
  EXPECT_THAT(Ids(Run({"ls", "--json"}).Json()), UnorderedElementsAre(others[2]));
}

TEST_F(StoreCliTest, VerifyReportsDataLossForAnEntryCorruptedOnDisk) {
  TieredStoreOptions options;
  options.host_capacity_bytes = 0;  // everything on disk
  options.disk.dir = dir_.Join("disk");
  options.disk.fsync = false;
  ASSERT_NO_FATAL_FAILURE(Serve(options));
  const std::string id = Put(MakeEntry(Tokens(2), kModelA, kFull, {{20, 20}, {20, 20}}, 5));
  CliResult ok = Run({"verify", id});
  ASSERT_EQ(ok.code, 0) << ok.err;
  EXPECT_THAT(ok.out, HasSubstr("verified " + id));

  const std::string path = options.disk.dir + "/" + id + ".kv";
  ASSERT_TRUE(std::filesystem::exists(path)) << path;
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(-10, std::ios::end);
    char byte = 0;
    f.read(&byte, 1);
    byte = static_cast<char>(byte ^ 0x5a);
    f.seekp(-10, std::ios::end);
    f.write(&byte, 1);
  }
  CliResult bad = Run({"verify", id});
  EXPECT_EQ(bad.code, 1);
  EXPECT_THAT(bad.err, HasSubstr("DATA_LOSS"));
  EXPECT_EQ(bad.err_lines(), 1) << bad.err;

  const nlohmann::json tiers = Run({"tiers", "--json"}).Json();
  nlohmann::json disk;
  for (const auto& t : tiers["tiers"]) {
    if (t["name"] == "disk") disk = t;
  }
  ASSERT_FALSE(disk.is_null()) << tiers.dump();
  EXPECT_EQ(disk["corruptions"], 1);
  ASSERT_EQ(tiers["quarantined"].size(), 1u);
  EXPECT_EQ(tiers["quarantined"][0]["id"], id);
  EXPECT_EQ(Run({"stat", id}).code, 1) << "a quarantined entry is still listed";
}

TEST_F(StoreCliTest, ExportImportRoundTripsByteExact) {
  ASSERT_NO_FATAL_FAILURE(Serve(TieredStoreOptions{}));
  const KvEntry entry = MakeEntry(Tokens(3), kModelA, kSnap, {{12, 3}, {7, 9}}, 21);
  const std::string id = Put(entry);
  const std::string session = Put(MakeEntry(Tokens(1), kModelB, kFull, {{4, 4}}, 22), "session-7.turn-2");
  ASSERT_EQ(session, "session-7.turn-2");

  for (const std::string& key : {id, session}) {
    const std::string f1 = dir_.Join(key + ".1.kve"), f2 = dir_.Join(key + ".2.kve");
    CliResult exported = Run({"export", key, f1});
    ASSERT_EQ(exported.code, 0) << exported.err;
    auto original = store_->Get(key);
    ASSERT_TRUE(original.ok());
    ASSERT_EQ(Run({"rm", key}).code, 0);
    ASSERT_EQ(Run({"stat", key}).code, 1);
    CliResult imported = Run({"import", f1, "--json"});
    ASSERT_EQ(imported.code, 0) << imported.err;
    EXPECT_EQ(imported.Json()["id"], key);
    auto back = store_->Get(key);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ((*back)->header.SerializeAsString(), (*original)->header.SerializeAsString());
    EXPECT_EQ((*back)->layers, (*original)->layers);
    ASSERT_EQ(Run({"export", key, f2}).code, 0);
    EXPECT_EQ(ReadAll(f1), ReadAll(f2));
  }

  // A damaged file is refused before anything is stored.
  const std::string f = dir_.Join(id + ".1.kve");
  std::string bytes = ReadAll(f);
  bytes[bytes.size() - 3] ^= 1;
  testing::WriteFile(dir_.Join("bad.kve"), bytes);
  CliResult bad = Run({"import", dir_.Join("bad.kve")});
  EXPECT_EQ(bad.code, 1);
  EXPECT_THAT(bad.err, HasSubstr("DATA_LOSS"));
}

TEST_F(StoreCliTest, ClearErrorsForUnknownIdUnreachableStoreAndBadArguments) {
  ASSERT_NO_FATAL_FAILURE(Serve(TieredStoreOptions{}));
  for (const char* command : {"stat", "show", "pin", "verify", "rm"}) {
    CliResult r = Run({command, "0123456789abcdef0123456789abcdef"});
    EXPECT_EQ(r.code, 1) << command;
    EXPECT_THAT(r.err, HasSubstr("NOT_FOUND")) << command;
    EXPECT_THAT(r.err, HasSubstr("0123456789abcdef0123456789abcdef")) << command;
    EXPECT_EQ(r.err_lines(), 1) << r.err;
    EXPECT_EQ(r.out, "") << command;
  }
  const auto start = std::chrono::steady_clock::now();
  CliResult unreachable =
      Run({"ls", "--store=127.0.0.1:" + std::to_string(testing::FreeLoopbackPort()), "--connect_timeout_s=2"});
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
  EXPECT_EQ(unreachable.code, 1);
  EXPECT_THAT(unreachable.err, HasSubstr("UNAVAILABLE"));
  EXPECT_THAT(unreachable.err, HasSubstr("kvstore"));
  EXPECT_EQ(unreachable.err_lines(), 1) << unreachable.err;

  CliResult missing_arg = Run({"pin"});
  EXPECT_EQ(missing_arg.code, 2);
  EXPECT_THAT(missing_arg.err, HasSubstr("pin takes one entry id"));
  CliResult unknown = Run({"frobnicate"});
  EXPECT_EQ(unknown.code, 2);
  EXPECT_THAT(unknown.err, HasSubstr("unknown command 'frobnicate'"));
  EXPECT_EQ(Run({"export", "x"}).code, 2);
  EXPECT_EQ(Run({}).code, 2);
}

TEST_F(StoreCliTest, MissingOrWrongTokenIsUnauthenticated) {
  ASSERT_NO_FATAL_FAILURE(Serve(TieredStoreOptions{}, "s3cret-token"));
  testing::WriteFile(dir_.Join("good"), "s3cret-token\n");
  testing::WriteFile(dir_.Join("wrong"), "guess\n");
  CliResult none = Run({"ls"});
  EXPECT_EQ(none.code, 1);
  EXPECT_THAT(none.err, HasSubstr("UNAUTHENTICATED"));
  CliResult wrong = Run({"tiers", "--auth_token_file=" + dir_.Join("wrong")});
  EXPECT_EQ(wrong.code, 1);
  EXPECT_THAT(wrong.err, HasSubstr("UNAUTHENTICATED"));
  CliResult good = Run({"tiers", "--auth_token_file=" + dir_.Join("good")});
  EXPECT_EQ(good.code, 0) << good.err;
  EXPECT_THAT(good.out, HasSubstr("host"));
  CliResult missing_file = Run({"ls", "--auth_token_file=" + dir_.Join("nope")});
  EXPECT_EQ(missing_file.code, 1);
  EXPECT_THAT(missing_file.err, HasSubstr("--auth_token_file"));
}

// The kvlab-kvstore binary builds the tiers its flags name.
TEST(KvStoreBinaryTest, TierFlagsBuildTheTiers) {
  testing::TempDir dir;
  testing::RedisServer redis;
  const int port = testing::FreeLoopbackPort();
  auto server = ChildProcess::Start(
      {std::string(KVLAB_KVSTORE_BIN), "--listen=127.0.0.1:" + std::to_string(port),
       "--host_capacity_mb=3", "--redis=127.0.0.1:" + std::to_string(redis.port()), "--redis_capacity_mb=5",
       "--disk_dir=" + dir.Join("disk"), "--disk_capacity_mb=7"},
      dir.Join("kvstore.log"));
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE(WaitForPort(port, **server, std::chrono::seconds(30)).ok()) << ReadAll(dir.Join("kvstore.log"));
  CliResult tiers = RunProcess({KVLAB_STORE_BIN, "--store=127.0.0.1:" + std::to_string(port), "tiers", "--json"},
                                dir.path(), 0);
  ASSERT_EQ(tiers.code, 0) << tiers.err;
  const nlohmann::json j = tiers.Json();
  std::map<std::string, int64_t> capacity;
  for (const auto& t : j["tiers"]) capacity[t["name"]] = t["capacity_bytes"];
  EXPECT_EQ(capacity, (std::map<std::string, int64_t>{{"host", 3 << 20}, {"redis", 5 << 20}, {"disk", 7 << 20}}));

  // --capacity_mb is still the host capacity; bad tier flags are refused.
  const int port2 = testing::FreeLoopbackPort();
  auto alias = ChildProcess::Start({std::string(KVLAB_KVSTORE_BIN),
                                    "--listen=127.0.0.1:" + std::to_string(port2), "--capacity_mb=2"},
                                   dir.Join("alias.log"));
  ASSERT_TRUE(alias.ok());
  ASSERT_TRUE(WaitForPort(port2, **alias, std::chrono::seconds(30)).ok());
  CliResult tiers2 = RunProcess({KVLAB_STORE_BIN, "--store=127.0.0.1:" + std::to_string(port2), "tiers", "--json"},
                                 dir.path(), 1);
  ASSERT_EQ(tiers2.code, 0) << tiers2.err;
  const nlohmann::json j2 = tiers2.Json();
  ASSERT_EQ(j2["tiers"].size(), 1u);
  EXPECT_EQ(j2["tiers"][0]["capacity_bytes"], 2 << 20);

  auto bad = ChildProcess::Start({std::string(KVLAB_KVSTORE_BIN), "--redis=nohostport"},
                                 dir.Join("bad.log"));
  ASSERT_TRUE(bad.ok());
  while ((*bad)->Running()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ((*bad)->exit_code(), 2);
  EXPECT_THAT(ReadAll(dir.Join("bad.log")), HasSubstr("--redis must be host:port"));
}

// Redis killed (SIGKILL) under a kvstore that writes through to it: the
// kvstore's writes to the dead connection fail with an error instead of
// killing it with SIGPIPE, and it keeps serving its host tier.
TEST(KvStoreBinaryTest, SurvivesRedisKilledUnderIt) {
  testing::TempDir dir;
  testing::RedisServer redis;
  const int port = testing::FreeLoopbackPort();
  auto server = ChildProcess::Start(
      {std::string(KVLAB_KVSTORE_BIN), "--listen=127.0.0.1:" + std::to_string(port), "--host_capacity_mb=64",
       "--redis=127.0.0.1:" + std::to_string(redis.port()), "--write_through"},
      dir.Join("kvstore.log"));
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE(WaitForPort(port, **server, std::chrono::seconds(30)).ok()) << ReadAll(dir.Join("kvstore.log"));
  ClientOptions options;
  options.address = "127.0.0.1:" + std::to_string(port);
  options.peer_name = "kvstore";
  auto client = NewKvStoreClient(options);
  ASSERT_TRUE(client.ok()) << client.status();
  auto first = (*client)->Put(testing::SyntheticEntry(4, 1 << 20, 1), v1::PutOptions());
  ASSERT_TRUE(first.ok()) << first.status();
  redis.Stop();
  for (uint32_t seed = 2; seed < 6; ++seed) {  // writes to the dead connection
    (void)(*client)->Put(testing::SyntheticEntry(4, 1 << 20, seed), v1::PutOptions());
  }
  ASSERT_TRUE((*server)->Running()) << "kvstore died: " << ReadAll(dir.Join("kvstore.log"));
  auto got = (*client)->Get(first->handle().id());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ((*got)->layers.size(), 4u);
  CliResult tiers = RunProcess({KVLAB_STORE_BIN, "--store=" + options.address, "tiers", "--json"}, dir.path(), 0);
  EXPECT_EQ(tiers.code, 0) << tiers.err;
}

// Safe by default: a server reachable from other hosts must authenticate.
TEST(KvStoreBinaryTest, NonLoopbackListenNeedsATokenOrInsecure) {
  testing::TempDir dir;
  const int port = testing::FreeLoopbackPort();
  const std::string any = "--listen=0.0.0.0:" + std::to_string(port);
  auto refused = ChildProcess::Start({std::string(KVLAB_KVSTORE_BIN), any}, dir.Join("refused.log"));
  ASSERT_TRUE(refused.ok());
  while ((*refused)->Running()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_NE((*refused)->exit_code(), 0);
  EXPECT_THAT(ReadAll(dir.Join("refused.log")), HasSubstr("--insecure"));

  testing::WriteFile(dir.Join("token"), "s3cret\n");
  for (const std::string& extra : {std::string("--insecure"), "--auth_token_file=" + dir.Join("token")}) {
    auto server = ChildProcess::Start({std::string(KVLAB_KVSTORE_BIN), any, extra}, dir.Join("ok.log"));
    ASSERT_TRUE(server.ok());
    EXPECT_TRUE(WaitForPort(port, **server, std::chrono::seconds(30)).ok()) << extra << ": " << ReadAll(dir.Join("ok.log"));
  }
}

}  // namespace
}  // namespace kvlab
