// A child process owned by the launcher (RAII: killed and reaped when the
// object goes away).
#ifndef KVLAB_TOOLS_CHILD_PROCESS_H_
#define KVLAB_TOOLS_CHILD_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace kvlab {

class ChildProcess {
 public:
  // Starts `argv[0]` with `argv`, stdout and stderr appended to `log_path`
  // (inherited when empty). INTERNAL when fork/exec fails (an exec failure
  // shows up as the child exiting with status 127).
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(const std::vector<std::string>& argv,
                                                             const std::string& log_path);
  // Sends SIGKILL if still running, then reaps.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& name() const { return name_; }
  // True while the process has not exited (reaps it if it has).
  bool Running();
  // Exit code once exited (-signal for a signal death); -1000 while running.
  int exit_code() const { return exit_code_; }
  // Sends SIGTERM and waits up to `grace`; then SIGKILL. Returns the exit code.
  int Stop(std::chrono::milliseconds grace);

 private:
  ChildProcess(pid_t pid, std::string name) : pid_(pid), name_(std::move(name)) {}
  void Reap(int status);

  pid_t pid_;
  std::string name_;
  bool exited_ = false;
  int exit_code_ = -1000;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
absl::StatusOr<int> PickFreePort();

// Waits until a TCP connection to 127.0.0.1:port succeeds, `child` exits, or
// `timeout` passes. DEADLINE_EXCEEDED / FAILED_PRECONDITION accordingly.
absl::Status WaitForPort(int port, ChildProcess& child, std::chrono::milliseconds timeout);

// Waits until `log_path` holds a line "<server> listening on HOST:PORT" (what
// every kvlab server prints once it serves; with --listen=...:0 the port is
// the one the kernel chose, so no other process can take it in between) and
// returns PORT. FAILED_PRECONDITION when `child` exits first,
// DEADLINE_EXCEEDED after `timeout`. Only lines after byte `from` count (a
// restarted server appends to the same log).
absl::StatusOr<int> WaitForListenLine(const std::string& log_path, const std::string& server, int64_t from,
                                      ChildProcess& child, std::chrono::milliseconds timeout);

}  // namespace kvlab

#endif  // KVLAB_TOOLS_CHILD_PROCESS_H_
