// A throwaway redis-server for tests: started as a child process on a free
// loopback port with persistence off, killed on destruction (RAII).
#ifndef KVLAB_TESTS_UTIL_REDIS_SERVER_H_
#define KVLAB_TESTS_UTIL_REDIS_SERVER_H_

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "gtest/gtest.h"

#include "tests/util/free_port.h"

namespace kvlab::testing {

// Not thread-safe. A missing redis-server binary is a test failure (tools/
// setup.sh installs it), never a skip.
class RedisServer {
 public:
  RedisServer() : port_(FreePort()) { Start(); }
  ~RedisServer() { Stop(); }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  int port() const { return port_; }
  bool running() const { return pid_ > 0; }

  // Starts the server on port() and waits until it accepts connections.
  void Start() {
    if (pid_ > 0) return;
    const std::string port = std::to_string(port_);
    pid_ = ::fork();
    if (pid_ == 0) {
      const int null_fd = ::open("/dev/null", O_WRONLY);
      if (null_fd >= 0) ::dup2(null_fd, STDOUT_FILENO);  // keep test logs readable
      ::execlp("redis-server", "redis-server", "--port", port.c_str(), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--protected-mode", "no", "--loglevel", "warning", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ASSERT_GT(pid_, 0) << "fork failed";
    // Readiness wait (not a timing assertion): poll until it accepts.
    for (int i = 0; i < 500; ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        FAIL() << "redis-server exited at start (status " << status
               << "); is it installed? (tools/setup.sh installs redis-server)";
      }
      if (Accepts()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    FAIL() << "redis-server did not start listening on port " << port_;
  }

  // Stalls the server (SIGSTOP) / lets it go on (SIGCONT).
  void Pause() { ::kill(pid_, SIGSTOP); }
  void Resume() { ::kill(pid_, SIGCONT); }

  // Kills the server (SIGKILL: no persistence anyway) and reaps it.
  void Stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

 private:
  static int FreePort() { return FreeLoopbackPort(); }

  bool Accepts() const {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    ::close(fd);
    return ok;
  }

  const int port_;
  pid_t pid_ = -1;
};

}  // namespace kvlab::testing

#endif  // KVLAB_TESTS_UTIL_REDIS_SERVER_H_
