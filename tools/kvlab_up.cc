#include "tools/kvlab_up.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
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
  std::string name;
  int port = 0;
  std::unique_ptr<ChildProcess> process;
  std::string address() const { return absl::StrCat("127.0.0.1:", port); }
};

absl::Status Up() {
  const std::string bin = FindBinDir();
  std::string model = absl::GetFlag(FLAGS_model);
  if (model.empty()) model = DefaultModelDir();
  std::string run_dir = absl::GetFlag(FLAGS_run_dir);
  if (run_dir.empty()) run_dir = "kvlab-cluster";
  std::filesystem::create_directories(run_dir);
  const std::string token = absl::GetFlag(FLAGS_auth_token_file);
  const auto timeout = std::chrono::seconds(absl::GetFlag(FLAGS_startup_timeout_s));

  std::vector<Server> servers;  // started in dependency order, stopped in reverse
  auto start = [&](const std::string& name, std::vector<std::string> extra) -> absl::StatusOr<Server*> {
    KVLAB_ASSIGN_OR_RETURN(int port, PickFreePort());
    std::vector<std::string> argv = {bin + "/kvlab-" + name, absl::StrCat("--listen=127.0.0.1:", port)};
    if (!token.empty()) argv.push_back("--auth_token_file=" + token);
    for (auto& e : extra) argv.push_back(std::move(e));
    const std::string label = name + (name == "decode" ? absl::StrCat("-", servers.size()) : "");
    KVLAB_ASSIGN_OR_RETURN(auto child, ChildProcess::Start(argv, run_dir + "/" + label + ".log"));
    servers.push_back({label, port, std::move(child)});
    Server* s = &servers.back();
    absl::Status ready = WaitForPort(port, *s->process, timeout);
    if (!ready.ok()) {
      return absl::Status(ready.code(), absl::StrCat(ready.message(), " (see ", run_dir, "/", label, ".log)"));
    }
    std::fprintf(stderr, "kvlab up: %-10s listening on %s (pid %d)\n", label.c_str(), s->address().c_str(),
                 s->process->pid());
    return s;
  };
  servers.reserve(5 + absl::GetFlag(FLAGS_decode_workers));

  auto stop_all = [&] {
    for (auto it = servers.rbegin(); it != servers.rend(); ++it) {
      const int code = it->process->Stop(std::chrono::seconds(15));
      std::fprintf(stderr, "kvlab up: %-10s stopped (exit %d)\n", it->name.c_str(), code);
    }
  };
  auto run = [&]() -> absl::Status {
    KVLAB_ASSIGN_OR_RETURN(Server * kvstore, start("kvstore", {}));
    KVLAB_ASSIGN_OR_RETURN(Server * compressor, start("compressor", {}));
    KVLAB_ASSIGN_OR_RETURN(Server * prefill, start("prefill", {"--model=" + model, "--kvstore=" + kvstore->address(),
                                                               "--compressor=" + compressor->address()}));
    std::string decodes;
    for (int i = 0; i < absl::GetFlag(FLAGS_decode_workers); ++i) {
      KVLAB_ASSIGN_OR_RETURN(Server * d, start("decode", {"--model=" + model, "--kvstore=" + kvstore->address()}));
      absl::StrAppend(&decodes, decodes.empty() ? "" : ",", d->address());
    }
    KVLAB_ASSIGN_OR_RETURN(Server * evaluator,
                           start("evaluator", {"--model=" + model, "--prefill=" + prefill->address(),
                                               "--decode=" + decodes, "--results_dir=" + run_dir + "/results"}));
    nlohmann::json addresses;
    for (const Server& s : servers) addresses[s.name] = s.address();
    addresses["decode"] = decodes;
    std::ofstream(run_dir + "/addresses.json") << addresses.dump(2) << "\n";
    std::printf("%s\n", addresses.dump().c_str());
    std::fflush(stdout);
    std::fprintf(stderr, "kvlab up: cluster ready; submit jobs to %s; Ctrl-C stops it\n",
                 evaluator->address().c_str());
    while (!g_stop.load()) {
      for (Server& s : servers) {
        if (!s.process->Running()) {
          return absl::InternalError(absl::StrCat(s.name, " exited unexpectedly with code ", s.process->exit_code(),
                                                  " (see ", run_dir, "/", s.name, ".log)"));
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return absl::OkStatus();
  };
  absl::Status status = run();
  stop_all();
  return status;
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
