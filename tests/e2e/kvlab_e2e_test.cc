// End to end: `kvlab run` (all services in one process) and `kvlab up` (five
// server processes) run the same job; the cluster's results equal the
// all-in-one results, and both write every output.
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/json_file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/evaluator/grpc_client.h"
#include "tests/util/redis_server.h"
#include "tests/util/test_util.h"
#include "tools/child_process.h"

namespace kvlab {
namespace {

const char kJob[] = R"({"name": "e2e", "tasks": [{"task": "kv", "sessions": 2, "turns": 2,
  "context_tokens": 300}], "methods": ["kv=full", "kv=snapkv{window=8,capacity=96}+kivi{bits=4,group=16}"],
  "modes": ["multi_turn", "multi_request"], "max_new_tokens": 8})";

std::map<std::string, std::string> Predictions(const std::string& dir) {
  std::map<std::string, std::string> out;
  std::ifstream in(dir + "/results.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    auto r = nlohmann::json::parse(line);
    out[r["unit"].get<std::string>() + "#" + std::to_string(r["turn"].get<int>())] = r["prediction"];
  }
  return out;
}

int RunToEnd(const std::vector<std::string>& argv, const std::string& log) {
  auto child = ChildProcess::Start(argv, log);
  EXPECT_TRUE(child.ok());
  while ((*child)->Running()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  return (*child)->exit_code();
}

TEST(KvlabE2eTest, RunAndClusterGiveTheSameResults) {
  testing::TempDir tmp;
  testing::WriteFile(tmp.Join("job.json"), kJob);
  const std::string model = testing::FixtureDir("tiny-llama3");
  const std::string kvlab = std::string(KVLAB_TOOLS_DIR) + "/kvlab";

  // All in one process.
  ASSERT_EQ(RunToEnd({kvlab, "run", "--model=" + model, "--job=" + tmp.Join("job.json"),
                      "--output_dir=" + tmp.Join("local")},
                     tmp.Join("run.log")),
            0)
      << testing::ReadFile(tmp.Join("run.log"));
  auto local = Predictions(tmp.Join("local"));
  ASSERT_EQ(local.size(), 2u * 2 * 2 * 2);
  for (const char* f : {"summary.md", "summary.csv", "report.html", "job.json"}) {
    EXPECT_TRUE(std::filesystem::exists(tmp.Join("local") + "/" + f)) << f;
  }

  // The cluster.
  testing::WriteFile(tmp.Join("token"), "e2e-secret\n");
  auto up = ChildProcess::Start({kvlab, "up", "--model=" + model, "--run_dir=" + tmp.Join("cluster"),
                                 "--decode_workers=2", "--auth_token_file=" + tmp.Join("token"),
                                 std::string("--bin_dir=") + KVLAB_BIN_DIR},
                                tmp.Join("up.log"));
  ASSERT_TRUE(up.ok());
  const std::string addresses = tmp.Join("cluster") + "/addresses.json";
  for (int i = 0; i < 1200 && !std::filesystem::exists(addresses) && (*up)->Running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(std::filesystem::exists(addresses)) << testing::ReadFile(tmp.Join("up.log"));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // file fully written
  auto doc = ReadJsonFile(addresses);
  ASSERT_TRUE(doc.ok());

  ClientOptions opts;
  opts.address = (*doc)["evaluator"];
  opts.peer_name = "evaluator";
  opts.token = "e2e-secret";
  auto evaluator = NewEvaluatorClient(opts);
  ASSERT_TRUE(evaluator.ok()) << evaluator.status();
  v1::SubmitJobRequest req;
  req.set_job_json(kJob);
  req.set_output_dir("remote");  // under the evaluator's --jobs_dir
  auto status = (*evaluator)->SubmitJob(req);
  ASSERT_TRUE(status.ok()) << status.status();
  v1::JobStatus last;
  ASSERT_TRUE((*evaluator)->WatchJob(status->job_id(), [&](const v1::JobStatus& s) {
    last = s;
    return true;
  }).ok());
  EXPECT_EQ(last.state(), v1::JobStatus::SUCCEEDED) << last.error();
  EXPECT_EQ(last.turns_done(), 16);
  EXPECT_EQ(last.output_dir(), tmp.Join("cluster") + "/jobs/remote");
  EXPECT_EQ(Predictions(last.output_dir()), local);
  // Paths outside the evaluator's directories are refused.
  for (const std::string& outside : {tmp.Join("elsewhere"), std::string("../escape")}) {
    req.set_output_dir(outside);
    EXPECT_EQ((*evaluator)->SubmitJob(req).status().code(), absl::StatusCode::kInvalidArgument) << outside;
  }
  req.clear_output_dir();
  req.set_job_json(R"({"name": "probe", "tasks": [{"task": "kv", "file": "/etc/passwd"}], "methods": ["kv=full"]})");
  EXPECT_EQ((*evaluator)->SubmitJob(req).status().code(), absl::StatusCode::kInvalidArgument);

  // Wrong token: refused.
  opts.token = "nope";
  auto intruder = NewEvaluatorClient(opts);
  ASSERT_TRUE(intruder.ok());
  EXPECT_EQ((*intruder)->ListJobs().status().code(), absl::StatusCode::kUnauthenticated);

  // kvlab up stops its servers cleanly on SIGTERM.
  EXPECT_EQ((*up)->Stop(std::chrono::seconds(60)), 0) << testing::ReadFile(tmp.Join("up.log"));
}

// A `kvlab up` cluster of the tiny fixture model under tmp/cluster.
struct UpCluster {
  std::unique_ptr<ChildProcess> up;
  std::string log;
  nlohmann::json addresses;
};

UpCluster StartCluster(const testing::TempDir& tmp, const std::vector<std::string>& extra = {}) {
  UpCluster c;
  c.log = tmp.Join("up.log");
  std::vector<std::string> argv = {std::string(KVLAB_TOOLS_DIR) + "/kvlab", "up",
                                   "--model=" + testing::FixtureDir("tiny-llama3"), "--run_dir=" + tmp.Join("cluster"),
                                   std::string("--bin_dir=") + KVLAB_BIN_DIR};
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto up = ChildProcess::Start(argv, c.log);
  EXPECT_TRUE(up.ok());
  if (!up.ok()) return c;
  c.up = std::move(*up);
  const std::string addresses = tmp.Join("cluster") + "/addresses.json";
  for (int i = 0; i < 1200 && !std::filesystem::exists(addresses) && c.up->Running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(std::filesystem::exists(addresses)) << testing::ReadFile(c.log);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // file fully written
  auto doc = ReadJsonFile(addresses);
  EXPECT_TRUE(doc.ok());
  if (doc.ok()) c.addresses = *doc;
  return c;
}

// (address, pid) of every start of server `name` that kvlab up logged, in order.
std::vector<std::pair<std::string, int>> Starts(const std::string& log, const std::string& name) {
  const std::regex started(name + R"( +listening on (127\.0\.0\.1:\d+) \(pid (\d+)\))");
  const std::string text = testing::ReadFile(log);
  std::vector<std::pair<std::string, int>> out;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), started); it != std::sregex_iterator(); ++it) {
    out.emplace_back((*it)[1], std::stoi((*it)[2]));
  }
  return out;
}

// Kills server `name` (SIGKILL) and waits until kvlab up has started it
// again (a readiness wait, not a timing assertion). False if it did not.
bool KillAndAwaitRestart(const std::string& log, const std::string& name) {
  const auto before = Starts(log, name);
  if (before.empty() || ::kill(before.back().second, SIGKILL) != 0) return false;
  for (int i = 0; i < 1200; ++i) {
    if (Starts(log, name).size() > before.size()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

std::unique_ptr<Evaluator> Client(const UpCluster& c) {
  ClientOptions opts;
  opts.address = c.addresses["evaluator"];
  opts.peer_name = "evaluator";
  auto evaluator = NewEvaluatorClient(opts);
  EXPECT_TRUE(evaluator.ok()) << evaluator.status();
  return evaluator.ok() ? std::move(*evaluator) : nullptr;
}

// The job's status, asked until the evaluator answers (it may be restarting).
v1::JobStatus StatusOf(Evaluator& evaluator, const std::string& id) {
  for (int i = 0; i < 600; ++i) {
    auto list = evaluator.ListJobs();
    if (list.ok()) {
      for (const auto& j : list->jobs()) {
        if (j.job_id() == id) return j;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ADD_FAILURE() << "the evaluator does not list job " << id;
  return {};
}

// kvlab up supervises its servers: a decode worker killed with SIGKILL is
// started again on its port, and the cluster then runs a job to the end.
TEST(KvlabE2eTest, KvlabUpRestartsAKilledServer) {
  testing::TempDir tmp;
  UpCluster c = StartCluster(tmp);
  ASSERT_NE(c.up, nullptr);
  const auto first = Starts(c.log, "decode-0");
  ASSERT_EQ(first.size(), 1u) << testing::ReadFile(c.log);
  ASSERT_TRUE(KillAndAwaitRestart(c.log, "decode-0")) << testing::ReadFile(c.log);
  EXPECT_THAT(testing::ReadFile(c.log), ::testing::HasSubstr("decode-0 exited with code -9; restarting it"));
  const auto after = Starts(c.log, "decode-0");
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[1].first, first[0].first);  // same port: its peers' addresses stay valid
  ASSERT_TRUE(c.up->Running());

  auto evaluator = Client(c);
  ASSERT_NE(evaluator, nullptr);
  v1::SubmitJobRequest req;
  req.set_job_json(kJob);
  auto status = evaluator->SubmitJob(req);
  ASSERT_TRUE(status.ok()) << status.status();
  v1::JobStatus last;
  ASSERT_TRUE(evaluator->WatchJob(status->job_id(), [&](const v1::JobStatus& s) {
    last = s;
    return true;
  }).ok());
  EXPECT_EQ(last.state(), v1::JobStatus::SUCCEEDED) << last.error();
  EXPECT_EQ(last.turns_done(), 16);
  EXPECT_EQ(c.up->Stop(std::chrono::seconds(60)), 0) << testing::ReadFile(c.log);
}

// Chaos: while one job runs, Redis (the kvstore's write-through tier) is
// stalled (SIGSTOP, 3 s) and killed, then each server in turn is killed with
// SIGKILL (decode, prefill,
// compressor, kvstore, evaluator). kvlab up restarts the servers and the
// test restarts Redis; the evaluator retries sessions whose peer went away
// and recomputes entries the kvstore lost; a restarted evaluator resumes the
// job. The job completes, without a rerun, with an undisturbed run's results.
TEST(KvlabE2eTest, JobCompletesWhileEachServerIsKilledInTurn) {
  testing::TempDir tmp;
  const char job[] = R"({"name": "chaos", "tasks": [{"task": "kv", "sessions": 30, "turns": 3,
    "context_tokens": 300}], "methods": ["kv=full", "kv=snapkv{window=8,capacity=96}"],
    "modes": ["multi_turn", "multi_request"], "max_new_tokens": 8})";
  testing::WriteFile(tmp.Join("job.json"), job);
  const std::string kvlab = std::string(KVLAB_TOOLS_DIR) + "/kvlab";
  ASSERT_EQ(RunToEnd({kvlab, "run", "--model=" + testing::FixtureDir("tiny-llama3"), "--job=" + tmp.Join("job.json"),
                      "--output_dir=" + tmp.Join("undisturbed")},
                     tmp.Join("run.log")),
            0)
      << testing::ReadFile(tmp.Join("run.log"));
  const auto undisturbed = Predictions(tmp.Join("undisturbed"));
  ASSERT_EQ(undisturbed.size(), 30u * 3 * 2 * 2);

  testing::RedisServer redis;
  UpCluster c = StartCluster(
      tmp, {absl::StrCat("--kvstore_flags=--redis=127.0.0.1:", redis.port(), ",--write_through")});
  ASSERT_NE(c.up, nullptr);
  auto evaluator = Client(c);
  ASSERT_NE(evaluator, nullptr);
  v1::SubmitJobRequest req;
  req.set_job_json(job);
  req.set_output_dir("chaos");
  auto submitted = evaluator->SubmitJob(req);
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  const std::string id = submitted->job_id();
  int64_t done = 0;
  for (const char* victim : {"redis-stall", "redis", "decode-0", "prefill", "compressor", "kvstore", "evaluator"}) {
    // Let the job make progress, then kill.
    for (int i = 0; i < 600; ++i) {
      const v1::JobStatus s = StatusOf(*evaluator, id);
      if (s.turns_done() > done || s.state() == v1::JobStatus::SUCCEEDED) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    const v1::JobStatus before = StatusOf(*evaluator, id);
    ASSERT_EQ(before.state(), v1::JobStatus::RUNNING) << victim << ": the job ended early: " << before.error();
    done = before.turns_done();
    if (std::string(victim) == "redis-stall") {
      redis.Pause();
      std::this_thread::sleep_for(std::chrono::seconds(3));  // the job runs on meanwhile
      redis.Resume();
      continue;
    }
    if (std::string(victim) == "redis") {
      redis.Stop();
      std::this_thread::sleep_for(std::chrono::seconds(1));  // the job runs on without it meanwhile
      redis.Start();
      continue;
    }
    ASSERT_TRUE(KillAndAwaitRestart(c.log, victim)) << victim << "\n" << testing::ReadFile(c.log);
  }
  v1::JobStatus last;
  for (int i = 0; i < 1800; ++i) {
    last = StatusOf(*evaluator, id);
    if (last.state() != v1::JobStatus::RUNNING && last.state() != v1::JobStatus::QUEUED) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(last.state(), v1::JobStatus::SUCCEEDED) << last.error();
  EXPECT_EQ(Predictions(tmp.Join("cluster") + "/jobs/chaos"), undisturbed);
  EXPECT_EQ(c.up->Stop(std::chrono::seconds(60)), 0) << testing::ReadFile(c.log);
}

TEST(KvlabE2eTest, KilledRunResumesWhereItStopped) {
  testing::TempDir tmp;
  const char job[] = R"({"name": "resume", "tasks": [{"task": "kv", "sessions": 8, "turns": 2,
    "context_tokens": 300}], "methods": ["kv=full", "kv=streamingllm{n_sink=8,n_recent=64}"],
    "modes": ["multi_turn", "multi_request"], "max_new_tokens": 24})";
  testing::WriteFile(tmp.Join("job.json"), job);
  const std::string model = testing::FixtureDir("tiny-llama3");
  const std::string kvlab = std::string(KVLAB_TOOLS_DIR) + "/kvlab";
  auto args = [&](const std::string& out) {
    return std::vector<std::string>{kvlab, "run", "--model=" + model, "--job=" + tmp.Join("job.json"),
                                    "--output_dir=" + out};
  };

  // Kill the run once some sessions are written.
  auto child = ChildProcess::Start(args(tmp.Join("out")), tmp.Join("killed.log"));
  ASSERT_TRUE(child.ok());
  const std::string results = tmp.Join("out") + "/results.jsonl";
  while ((*child)->Running() && Predictions(tmp.Join("out")).size() < 4) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill((*child)->pid(), SIGKILL);
  (*child)->Stop(std::chrono::seconds(5));
  const size_t before = Predictions(tmp.Join("out")).size();
  EXPECT_GE(before, 4u);
  EXPECT_LT(before, 64u) << "the run finished before it was killed";

  ASSERT_EQ(RunToEnd(args(tmp.Join("out")), tmp.Join("resumed.log")), 0) << testing::ReadFile(tmp.Join("resumed.log"));
  ASSERT_EQ(RunToEnd(args(tmp.Join("fresh")), tmp.Join("fresh.log")), 0);
  auto resumed = Predictions(tmp.Join("out"));
  EXPECT_EQ(resumed.size(), 8u * 2 * 2 * 2);
  EXPECT_EQ(resumed, Predictions(tmp.Join("fresh")));
  // No session was written twice.
  std::ifstream in(results);
  int lines = 0;
  for (std::string line; std::getline(in, line);) ++lines;
  EXPECT_EQ(lines, 64);
}

// Runs `kvlab run` without --model (so on the shipped default model) on `tasks` (JSON task list)
// with full KV and dense prefill in both modes; returns the mean score and answer count per task.
std::map<std::string, std::pair<double, int>> DefaultModelFullScores(const std::string& tasks) {
  testing::TempDir tmp;
  testing::WriteFile(tmp.Join("job.json"), R"({"name": "quality", "seed": 11, "tasks": )" + tasks +
                                               R"(, "methods": ["prefill=dense;kv=full"],
    "modes": ["multi_turn", "multi_request"]})");
  ::unsetenv("KVLAB_MODEL");
  const std::string kvlab = std::string(KVLAB_TOOLS_DIR) + "/kvlab";
  const int rc = RunToEnd({kvlab, "run", "--job=" + tmp.Join("job.json"), "--output_dir=" + tmp.Join("out")},
                          tmp.Join("run.log"));
  EXPECT_EQ(rc, 0) << testing::ReadFile(tmp.Join("run.log"));
  std::map<std::string, std::pair<double, int>> by_task;  // score sum, then mean; count
  std::ifstream in(tmp.Join("out") + "/results.jsonl");
  for (std::string line; std::getline(in, line);) {
    auto r = nlohmann::json::parse(line);
    auto& [sum, n] = by_task[r["task"].get<std::string>()];
    sum += r["score"].get<double>();
    ++n;
  }
  for (auto& [task, acc] : by_task) acc.first /= acc.second;
  return by_task;
}

// Issue 9: `kvlab run` without --model uses the shipped trained model, and with full KV it really
// retrieves at 1K tokens. A random-weights model (the fixtures) scores 0 on both tasks: it never
// emits a 5-digit passkey or a 36-character UUID from the context. The thresholds sit below what
// the shipped model measured with these jobs (seed 11): passkey 1.00, kv 0.98.
TEST(KvlabE2eTest, DefaultModelRetrievesAtOneThousandTokens) {
  const std::map<std::string, double> min_mean = {{"passkey", 0.9}, {"kv", 0.85}};
  auto scores = DefaultModelFullScores(R"([
    {"task": "passkey", "sessions": 4, "turns": 5, "context_tokens": 1024},
    {"task": "kv", "sessions": 4, "turns": 5, "context_tokens": 1024}])");
  ASSERT_EQ(scores.size(), 2u);
  for (const auto& [task, acc] : scores) {
    EXPECT_EQ(acc.second, 4 * 5 * 2) << task;
    EXPECT_GE(acc.first, min_mean.at(task)) << task << ": mean full-KV score";
  }
}

// A model trained mostly at its longest length can retrieve only there: the step-2500 model scored
// kv 0.87 at 1024 tokens and 0 at 512 and 320 (it copied values of the wrong pairs). The shipped
// model is trained with half its steps at shorter lengths, and must retrieve there too (it
// measured 0.93 with this job; the step-2500 model 0).
TEST(KvlabE2eTest, DefaultModelRetrievesAtShorterContexts) {
  auto scores = DefaultModelFullScores(R"([
    {"task": "kv", "sessions": 4, "turns": 5, "context_tokens": 512}])");
  ASSERT_EQ(scores.size(), 1u);
  EXPECT_EQ(scores["kv"].second, 4 * 5 * 2);
  EXPECT_GE(scores["kv"].first, 0.8) << "kv at 512 tokens: mean full-KV score";
}

}  // namespace
}  // namespace kvlab
