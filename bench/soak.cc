// bench/soak: runs the same job round after round on a `kvlab up` cluster and
// prints every server's resident memory after each round, with its growth
// per round against a limit (issue 26: kvstore and decode flat, <= 1% a
// round after round 3). Identical load must not leak.
//
//   build/bench/soak [--rounds=8] [--sessions=16] [--model=models/fixtures/tiny-llama3]
//                    [--kvlab=build/tools/kvlab] [--bin_dir=build/services] [--run_dir=/tmp/kvlab-soak]
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "common/json_file.h"
#include "services/evaluator/grpc_client.h"
#include "tools/child_process.h"

ABSL_FLAG(int, rounds, 8, "rounds of the same job");
ABSL_FLAG(int, sessions, 16, "sessions per task and round");
ABSL_FLAG(std::string, model, "models/fixtures/tiny-llama3", "model directory");
ABSL_FLAG(std::string, kvlab, "build/tools/kvlab", "the kvlab binary");
ABSL_FLAG(std::string, bin_dir, "build/services", "directory of the kvlab-* servers");
ABSL_FLAG(std::string, run_dir, "/tmp/kvlab-soak", "cluster directory (logs, jobs)");
ABSL_FLAG(double, max_growth_pct, 1.0, "limit on the RSS growth per round after round 3 (%)");

namespace kvlab::bench {
namespace {

// Resident set size of `pid` in bytes (VmRSS), 0 if unreadable.
int64_t RssBytes(int pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  }
  return 0;
}

// Server name -> pid, from kvlab up's "NAME listening on ... (pid N)" lines (latest wins).
std::map<std::string, int> ServerPids(const std::string& log) {
  std::ifstream in(log);
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  const std::regex line(R"(kvlab up: (\S+) +listening on \S+ \(pid (\d+)\))");
  std::map<std::string, int> pids;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), line); it != std::sregex_iterator(); ++it) {
    pids[(*it)[1]] = std::stoi((*it)[2]);
  }
  return pids;
}

absl::Status RunRound(Evaluator& evaluator, int round) {
  v1::SubmitJobRequest req;
  req.set_job_json(absl::StrCat(R"({"name": "soak", "tasks": [{"task": "kv", "sessions": )",
                                absl::GetFlag(FLAGS_sessions), R"(, "turns": 3, "context_tokens": 300}],
      "methods": ["kv=full", "kv=snapkv{window=8,capacity=96}+kivi{bits=4,group=16}"],
      "modes": ["multi_turn", "multi_request"], "max_new_tokens": 8})"));
  req.set_output_dir(absl::StrCat("round-", round));
  auto status = evaluator.SubmitJob(req);
  if (!status.ok()) return status.status();
  v1::JobStatus last;
  absl::Status watched = evaluator.WatchJob(status->job_id(), [&](const v1::JobStatus& s) {
    last = s;
    return true;
  });
  if (!watched.ok()) return watched;
  if (last.state() != v1::JobStatus::SUCCEEDED) return absl::InternalError(absl::StrCat("round failed: ", last.error()));
  return absl::OkStatus();
}

int Run() {
  const std::string run_dir = absl::GetFlag(FLAGS_run_dir);
  std::filesystem::remove_all(run_dir);
  std::filesystem::create_directories(run_dir);
  const std::string log = run_dir + "/up.log";
  auto up = ChildProcess::Start({absl::GetFlag(FLAGS_kvlab), "up", "--model=" + absl::GetFlag(FLAGS_model),
                                 "--run_dir=" + run_dir, "--bin_dir=" + absl::GetFlag(FLAGS_bin_dir)},
                                log);
  if (!up.ok()) return std::fprintf(stderr, "soak: %s\n", up.status().ToString().c_str()), 1;
  const std::string addresses = run_dir + "/addresses.json";
  for (int i = 0; i < 1200 && !std::filesystem::exists(addresses) && (*up)->Running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto doc = ReadJsonFile(addresses);
  if (!doc.ok()) return std::fprintf(stderr, "soak: cluster did not start (see %s)\n", log.c_str()), 1;
  ClientOptions opts;
  opts.address = (*doc)["evaluator"];
  opts.peer_name = "evaluator";
  auto evaluator = NewEvaluatorClient(opts);
  if (!evaluator.ok()) return std::fprintf(stderr, "soak: %s\n", evaluator.status().ToString().c_str()), 1;
  const std::map<std::string, int> pids = ServerPids(log);
  std::map<std::string, std::vector<int64_t>> rss;
  std::printf("%-6s", "round");
  for (const auto& [name, pid] : pids) std::printf(" %12s", (name + " MB").c_str());
  std::printf("\n");
  for (int r = 1; r <= absl::GetFlag(FLAGS_rounds); ++r) {
    if (absl::Status s = RunRound(**evaluator, r); !s.ok()) {
      std::fprintf(stderr, "soak: round %d: %s\n", r, s.ToString().c_str());
      return 1;
    }
    std::printf("%-6d", r);
    for (const auto& [name, pid] : pids) {
      rss[name].push_back(RssBytes(pid));
      std::printf(" %12.1f", rss[name].back() / 1e6);
    }
    std::printf("\n");
    std::fflush(stdout);
  }
  // Growth per round after round 3: (last - round 3) / round 3 / rounds.
  bool flat = true;
  std::printf("\ngrowth per round after round 3 (limit %.1f%%):\n", absl::GetFlag(FLAGS_max_growth_pct));
  for (const auto& [name, v] : rss) {
    if (v.size() < 4 || v[2] == 0) continue;
    const double pct = 100.0 * (static_cast<double>(v.back()) - v[2]) / v[2] / static_cast<double>(v.size() - 3);
    const bool ok = pct <= absl::GetFlag(FLAGS_max_growth_pct);
    flat = flat && (ok || (name != "kvstore" && name.rfind("decode", 0) != 0));
    std::printf("  %-12s %+6.2f%% %s\n", name.c_str(), pct, ok ? "" : "ABOVE THE LIMIT");
  }
  (*up)->Stop(std::chrono::seconds(60));
  std::printf("kvstore and decode %s\n", flat ? "flat: met" : "NOT flat");
  return flat ? 0 : 2;
}

}  // namespace
}  // namespace kvlab::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return kvlab::bench::Run();
}
