#include "tools/kvlab_up.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "tools/child_process.h"
#include "tools/kvlab_run.h"

ABSL_DECLARE_FLAG(std::string, model);
ABSL_FLAG(int, decode_workers, 1, "kvlab up: number of kvlab-decode processes");
ABSL_FLAG(std::string, bin_dir, "", "kvlab up: directory of the kvlab-* server binaries (default: found "
                                    "next to this program or in ../services)");
ABSL_FLAG(std::string, run_dir, "", "kvlab up: directory for server logs, the addresses file and evaluator "
                                    "results (default: kvlab-cluster)");
ABSL_FLAG(std::string, auth_token_file, "", "kvlab up: bearer token file passed to every server");
ABSL_FLAG(int, startup_timeout_s, 120, "kvlab up: seconds each server may take to start listening");
ABSL_FLAG(std::vector<std::string>, kvstore_flags, {},
          "kvlab up: extra flags for kvlab-kvstore, comma-separated, e.g. "
          "--kvstore_flags=--redis=127.0.0.1:6379,--disk_dir=/var/kvlab,--host_capacity_mb=4096");

namespace kvlab {
namespace {

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop.store(true); }

std::string FindBinDir() {
  if (!absl::GetFlag(FLAGS_bin_dir).empty()) return absl::GetFlag(FLAGS_bin_dir);
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec).parent_path();
  for (const auto& dir : {self, self.parent_path() / "services"}) {
    if (std::filesystem::exists(dir / "kvlab-kvstore")) return dir.string();
  }
  return self.string();
}

struct Server {
  std::string name;     // "kvstore", "decode-3", ...
  std::string binary;   // "kvlab-kvstore"
  std::vector<std::string> args;  // all but --listen
  int port = 0;
  std::unique_ptr<ChildProcess> process;
  int restarts = 0;
  std::chrono::steady_clock::time_point next_try;  // when a dead server is started again
  std::string address() const { return absl::StrCat("127.0.0.1:", port); }
};

// The five kinds of servers of one cluster: started in dependency order,
// supervised (a server that dies is started again on its port, with backoff),
// stopped in reverse order.
class Cluster {
 public:
  Cluster(std::string bin, std::string run_dir, std::chrono::seconds timeout)
      : bin_(std::move(bin)), run_dir_(std::move(run_dir)), timeout_(timeout) {}
  ~Cluster() { StopAll(); }

  // Starts kvlab-<kind> on a port the kernel picks (read back from the
  // server's "listening on" line) and waits until it serves.
  absl::StatusOr<Server*> Start(const std::string& kind, std::vector<std::string> args) {
    Server s;
    s.name = kind == "decode" ? absl::StrCat(kind, "-", decode_workers_++) : kind;
    s.binary = "kvlab-" + kind;
    s.args = std::move(args);
    servers_.push_back(std::move(s));
    Server& added = servers_.back();
    KVLAB_RETURN_IF_ERROR(Launch(added));
    return &added;
  }

  // Restarts servers that died (on the same port, so their peers' addresses
  // stay valid), waiting 1, 2, 4 ... 30 s between tries of each. Returns
  // after one pass.
  void Supervise() {
    const auto now = std::chrono::steady_clock::now();
    for (Server& s : servers_) {
      if (s.process->Running() || now < s.next_try) continue;
      const int backoff = std::min(30, 1 << std::min(s.restarts, 5));
      std::fprintf(stderr, "kvlab up: %s exited with code %d; restarting it (restart %d)\n", s.name.c_str(),
                   s.process->exit_code(), s.restarts + 1);
      ++s.restarts;
      if (absl::Status st = Launch(s); !st.ok()) {
        std::fprintf(stderr, "kvlab up: restarting %s failed: %s; next try in %d s\n", s.name.c_str(),
                     st.ToString().c_str(), backoff);
        s.next_try = std::chrono::steady_clock::now() + std::chrono::seconds(backoff);
      }
    }
  }

  void StopAll() {
    for (auto it = servers_.rbegin(); it != servers_.rend(); ++it) {
      if (it->process == nullptr) continue;
      const int code = it->process->Stop(std::chrono::seconds(15));
      std::fprintf(stderr, "kvlab up: %-10s stopped (exit %d)\n", it->name.c_str(), code);
      it->process.reset();
    }
  }

  const std::deque<Server>& servers() const { return servers_; }

 private:
  absl::Status Launch(Server& s) {
    std::vector<std::string> argv = {bin_ + "/" + s.binary, absl::StrCat("--listen=127.0.0.1:", s.port)};
    argv.insert(argv.end(), s.args.begin(), s.args.end());
    const std::string log = run_dir_ + "/" + s.name + ".log";
    std::error_code ec;
    const int64_t from = std::filesystem::exists(log) ? static_cast<int64_t>(std::filesystem::file_size(log, ec)) : 0;
    KVLAB_ASSIGN_OR_RETURN(s.process, ChildProcess::Start(argv, log));
    absl::StatusOr<int> port = WaitForListenLine(log, s.binary, from, *s.process, timeout_);
    if (!port.ok()) {
      return absl::Status(port.status().code(), absl::StrCat(port.status().message(), " (see ", log, ")"));
    }
    s.port = *port;
    std::fprintf(stderr, "kvlab up: %-10s listening on %s (pid %d)\n", s.name.c_str(), s.address().c_str(),
                 s.process->pid());
    return absl::OkStatus();
  }

  const std::string bin_, run_dir_;
  const std::chrono::seconds timeout_;
  std::deque<Server> servers_;  // deque: the pointers Start returns stay valid
  int decode_workers_ = 0;
};

// Starts the cluster, writes addresses.json, supervises until SIGINT/SIGTERM.
absl::Status Up() {
  std::string model = absl::GetFlag(FLAGS_model);
  if (model.empty()) model = DefaultModelDir();
  std::string run_dir = absl::GetFlag(FLAGS_run_dir);
  if (run_dir.empty()) run_dir = "kvlab-cluster";
  std::filesystem::create_directories(run_dir);
  std::vector<std::string> common;
  if (const std::string token = absl::GetFlag(FLAGS_auth_token_file); !token.empty()) {
    common.push_back("--auth_token_file=" + token);
  }
  auto with = [&](std::vector<std::string> args) {
    args.insert(args.begin(), common.begin(), common.end());
    return args;
  };
  Cluster cluster(FindBinDir(), run_dir, std::chrono::seconds(absl::GetFlag(FLAGS_startup_timeout_s)));
  KVLAB_ASSIGN_OR_RETURN(Server * kvstore, cluster.Start("kvstore", with(absl::GetFlag(FLAGS_kvstore_flags))));
  KVLAB_ASSIGN_OR_RETURN(Server * compressor, cluster.Start("compressor", with({})));
  KVLAB_ASSIGN_OR_RETURN(Server * prefill,
                         cluster.Start("prefill", with({"--model=" + model, "--kvstore=" + kvstore->address(),
                                                        "--compressor=" + compressor->address()})));
  std::string decodes;
  for (int i = 0; i < absl::GetFlag(FLAGS_decode_workers); ++i) {
    KVLAB_ASSIGN_OR_RETURN(Server * d,
                           cluster.Start("decode", with({"--model=" + model, "--kvstore=" + kvstore->address()})));
    absl::StrAppend(&decodes, decodes.empty() ? "" : ",", d->address());
  }
  KVLAB_ASSIGN_OR_RETURN(Server * evaluator,
                         cluster.Start("evaluator", with({"--model=" + model, "--prefill=" + prefill->address(),
                                                          "--decode=" + decodes, "--jobs_dir=" + run_dir + "/jobs"})));
  nlohmann::json addresses;
  for (const Server& s : cluster.servers()) addresses[s.name] = s.address();
  addresses["decode"] = decodes;
  std::ofstream(run_dir + "/addresses.json") << addresses.dump(2) << "\n";
  std::printf("%s\n", addresses.dump().c_str());
  std::fflush(stdout);
  std::fprintf(stderr, "kvlab up: cluster ready; submit jobs to %s; Ctrl-C stops it\n",
               evaluator->address().c_str());
  while (!g_stop.load()) {
    cluster.Supervise();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return absl::OkStatus();
}

}  // namespace

int UpCommand(std::vector<char*> args) {
  absl::ParseCommandLine(static_cast<int>(args.size()), args.data());
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  absl::Status s = Up();
  if (!s.ok()) {
    std::fprintf(stderr, "kvlab up: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace kvlab
