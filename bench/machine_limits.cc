#include "bench/machine_limits.h"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/parallel.h"

namespace kvlab::bench {
namespace {

template <typename F>
double BestSeconds(int reps, F&& f) {
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

}  // namespace

double MeasureSgemmPeakGflops() {
  const int n = 2048;
  std::vector<float> a(n * n, 0.5f), b(n * n, 0.25f), c(n * n);
  openblas_set_num_threads(NumWorkerThreads());
  double s = BestSeconds(4, [&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f,
                c.data(), n);
  });
  openblas_set_num_threads(1);  // the CPU backend drives BLAS single-threaded
  return 2.0 * n * n * n / s / 1e9;
}

double MeasureReadBandwidthGBs() {
  const int64_t n = (1ll << 30) / sizeof(float);
  std::vector<float> buf(n, 1.0f);
  std::atomic<double> sink{0};
  double s = BestSeconds(5, [&] {
    ParallelFor(n, 1 << 20, [&](int64_t b, int64_t e) {
      float acc[16] = {0};
      for (int64_t i = b; i + 16 <= e; i += 16) {
        for (int j = 0; j < 16; ++j) acc[j] += buf[i + j];
      }
      double t = 0;
      for (float x : acc) t += x;
      sink.store(sink.load() + t);
    });
  });
  return static_cast<double>(n * sizeof(float)) / s / 1e9;
}

double MeasureMemcpyGBs() {
  const size_t bytes = 256ull << 20;
  std::vector<char> a(bytes, 1), b(bytes, 0);
  double s = BestSeconds(5, [&] { std::memcpy(b.data(), a.data(), bytes); });
  return static_cast<double>(bytes) / s / 1e9;
}

namespace {

// A connected pair of stream sockets, or {-1, -1}.
std::pair<int, int> SocketPair(bool unix_socket) {
  int fds[2] = {-1, -1};
  if (unix_socket) {
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) return {-1, -1};
    return {fds[0], fds[1]};
  }
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (listener < 0 || bind(listener, reinterpret_cast<sockaddr*>(&addr), len) != 0 || listen(listener, 1) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (listener >= 0) close(listener);
    return {-1, -1};
  }
  fds[0] = socket(AF_INET, SOCK_STREAM, 0);
  if (fds[0] >= 0 && connect(fds[0], reinterpret_cast<sockaddr*>(&addr), len) == 0) {
    fds[1] = accept(listener, nullptr, nullptr);
  }
  close(listener);
  if (fds[1] < 0) {
    if (fds[0] >= 0) close(fds[0]);
    return {-1, -1};
  }
  return {fds[0], fds[1]};
}

}  // namespace

double MeasureSocketGBs(bool unix_socket) {
  const auto [sender, receiver] = SocketPair(unix_socket);
  if (sender < 0) return 0;
  constexpr size_t kBytes = 256ull << 20, kPiece = 4ull << 20;
  constexpr int kReps = 5;
  std::vector<char> src(kBytes, 1), dst(kBytes, 0);
  std::thread feeder([&, fd = sender] {
    for (int r = 0; r < kReps; ++r) {
      for (size_t sent = 0; sent < kBytes;) {
        const ssize_t n = send(fd, src.data() + sent, std::min(kPiece, kBytes - sent), 0);
        if (n <= 0) return;
        sent += static_cast<size_t>(n);
      }
    }
  });
  std::vector<double> rates;
  for (int r = 0; r < kReps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    size_t got = 0;
    while (got < kBytes) {
      const ssize_t n = recv(receiver, dst.data() + got, std::min(kPiece, kBytes - got), 0);
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    if (got < kBytes) break;
    rates.push_back(kBytes / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / 1e9);
  }
  close(receiver);  // unblocks the feeder if the reader stopped early
  feeder.join();
  close(sender);
  if (rates.empty()) return 0;
  std::sort(rates.begin(), rates.end());
  return rates[rates.size() / 2];
}

}  // namespace kvlab::bench
