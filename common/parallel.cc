#include "common/parallel.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <immintrin.h>
#include <thread>
#include <vector>

namespace kvlab {
namespace {

thread_local bool tls_in_parallel = false;

// Workers wait for a job; each job is a range split into chunks claimed via an
// atomic counter, so uneven chunk costs balance out.
class Pool {
 public:
  explicit Pool(int n_threads) {
    for (int i = 1; i < n_threads; ++i) workers_.emplace_back([this] { WorkerLoop(); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  void Run(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
    std::lock_guard<std::mutex> serial(run_mu_);
    {
      std::lock_guard<std::mutex> lock(mu_);
      fn_ = &fn;
      n_ = n;
      grain_ = grain;
      next_.store(0);
      active_.store(static_cast<int>(workers_.size()));
      generation_.fetch_add(1);
    }
    cv_.notify_all();
    Work();
    // Workers usually finish within microseconds of us: spin before blocking.
    for (int i = 0; i < kSpins && active_.load() != 0; ++i) _mm_pause();
    if (active_.load() != 0) {
      std::unique_lock<std::mutex> lock(mu_);
      done_cv_.wait(lock, [this] { return active_.load() == 0; });
    }
    fn_ = nullptr;
  }

 private:
  void Work() {
    tls_in_parallel = true;
    for (;;) {
      int64_t begin = next_.fetch_add(grain_);
      if (begin >= n_) break;
      (*fn_)(begin, std::min(n_, begin + grain_));
    }
    tls_in_parallel = false;
  }

  void WorkerLoop() {
    uint64_t seen = 0;
    for (;;) {
      // Ops come in quick succession (a decode step is ~100 of them): spin
      // briefly for the next one before sleeping.
      for (int i = 0; i < kSpins && generation_.load() == seen; ++i) _mm_pause();
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stop_ || generation_.load() != seen; });
        if (stop_) return;
        seen = generation_.load();
      }
      Work();
      {
        std::lock_guard<std::mutex> lock(mu_);
        active_.fetch_sub(1);
      }
      done_cv_.notify_one();
    }
  }

  std::vector<std::thread> workers_;
  std::mutex run_mu_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable done_cv_;
  static constexpr int kSpins = 20000;  // ~50-100 us of pause instructions
  bool stop_ = false;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> active_{0};
  const std::function<void(int64_t, int64_t)>* fn_ = nullptr;
  int64_t n_ = 0;
  int64_t grain_ = 1;
  std::atomic<int64_t> next_{0};
};

Pool& GlobalPool() {
  static Pool* pool = new Pool(NumWorkerThreads());
  return *pool;
}

}  // namespace

int NumWorkerThreads() {
  static const int n = [] {
    if (const char* env = std::getenv("KVLAB_NUM_THREADS")) {
      int v = std::atoi(env);
      if (v > 0) return v;
    }
    return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }();
  return n;
}

void ParallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  if (tls_in_parallel || n <= grain || NumWorkerThreads() == 1) {
    fn(0, n);
    return;
  }
  // Aim for a few chunks per thread so uneven work balances.
  int64_t chunks = static_cast<int64_t>(GlobalPool().size()) * 4;
  int64_t chunk = std::max(grain, (n + chunks - 1) / chunks);
  GlobalPool().Run(n, chunk, fn);
}

}  // namespace kvlab
