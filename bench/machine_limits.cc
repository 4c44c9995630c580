#include "bench/machine_limits.h"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <vector>

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

}  // namespace kvlab::bench
