// bench/attention: does sparse prefill attention shrink the compute in
// proportion to the pairs it keeps? For the attention op alone (bench-model
// shapes: 12 query heads, 4 KV heads, head_dim 64, random q/k/v) at --tokens,
// time(pattern) / time(dense) against the reported density, with the target
// ratio <= 1.5 x density + 0.05 per row (vertical_slash timed with its
// estimation step); then end-to-end prefill of the bench model with A-shape
// at 1/8 density as a ratio to dense prefill.
//
//   build/bench/attention_bench [--tokens=16384] [--reps=1] [--e2e=true]
//                               [--model_dir=bench-cache/llama-110m]
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/bench_model.h"
#include "engine/attention_pattern.h"
#include "engine/backend.h"
#include "engine/model.h"

ABSL_FLAG(int64_t, tokens, 16384, "context length (tokens)");
ABSL_FLAG(int, reps, 1, "timed (dense, pattern) pairs per attention row (best of each is used)");
ABSL_FLAG(bool, e2e, true, "also time end-to-end prefill of the bench model");
ABSL_FLAG(std::string, model_dir, "bench-cache/llama-110m", "where the random bench model is generated");

namespace kvlab::bench {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// A-shape n_local giving about `density` of the causal pairs at n tokens
// (pairs ~ n * (n_init + n_local) - n_local^2 / 2 of n^2 / 2).
int64_t LocalForDensity(int64_t n, int64_t n_init, double density) {
  const double nn = static_cast<double>(n);
  double lo = 1, hi = nn;
  for (int it = 0; it < 60; ++it) {
    const double mid = (lo + hi) / 2;
    const double pairs = nn * (n_init + mid) - mid * mid / 2;
    (pairs / (nn * nn / 2) < density ? lo : hi) = mid;
  }
  return static_cast<int64_t>(lo);
}

struct OpBench {
  std::unique_ptr<Backend> backend = NewCpuBackend();
  AttentionArgs args;

  explicit OpBench(int64_t n) {
    const int64_t hq = 12, hkv = 4, hd = 64;
    std::mt19937 rng(3);
    std::normal_distribution<float> d(0.0f, 1.0f);
    auto fill = [&](std::vector<int64_t> shape) {
      Tensor t = *backend->Allocate(DType::kF32, shape);
      std::vector<float> host(t.num_elements());
      for (float& x : host) x = d(rng);
      (void)backend->Upload(host.data(), t);
      return t;
    };
    args.q = fill({n, hq, hd});
    args.k = fill({hkv, n, hd});
    args.v = fill({hkv, n, hd});
    args.out = *backend->Allocate(DType::kF32, {n, hq, hd});
    args.kv_len.assign(hkv, n);
    args.scale = 0.125f;
  }

  // Best wall time of `reps` runs and the density of the last.
  std::pair<double, double> Time(const PrefillPattern* pattern, int reps) {
    double best = 1e30;
    AttentionStats stats;
    for (int r = 0; r < reps; ++r) {
      stats = AttentionStats();
      args.pattern = pattern;
      args.stats = &stats;
      auto t0 = Clock::now();
      backend->Attention(args);
      (void)backend->Synchronize();
      best = std::min(best, Seconds(t0));
    }
    return {best, stats.density()};
  }
};

int RunOps(int64_t n, int reps) {
  std::printf("attention op: %lld tokens, 12 query heads, 4 KV heads, head_dim 64, random q/k/v, best of %d\n\n",
              (long long)n, reps);
  OpBench bench(n);
  std::printf("%-58s %8s %10s %10s %8s %8s %4s\n", "pattern", "density", "time ms", "dense ms", "ratio", "target",
              "ok");
  std::vector<std::string> specs;
  for (double density : {1.0 / 8, 1.0 / 16, 1.0 / 32}) {
    const int64_t local = LocalForDensity(n, 128, density);
    specs.push_back(absl::StrCat("a_shape{n_init=128,n_local=", local, "}"));
    specs.push_back(absl::StrCat("tri_shape{n_init=128,n_local=", local, ",n_last=100}"));
  }
  specs.push_back("vertical_slash{n_vertical=1000,n_slash=6096,last_q=64}");
  specs.push_back("vertical_slash{n_vertical=1000,n_slash=100,last_q=64}");
  specs.push_back("vertical_slash{n_vertical=300,n_slash=200,last_q=64}");
  int failures = 0;
  for (const std::string& spec : specs) {
    auto pattern = ParsePrefillPattern(spec);
    if (!pattern.ok()) {
      std::fprintf(stderr, "%s\n", pattern.status().ToString().c_str());
      return 1;
    }
    // Dense is timed next to every pattern (alternating) so that both see
    // the same machine load; each takes its best of `reps`.
    double s = 1e30, dense_s = 1e30, density = 1;
    for (int r = 0; r < reps; ++r) {
      dense_s = std::min(dense_s, bench.Time(nullptr, 1).first);
      const auto [t, d] = bench.Time(&*pattern, 1);
      s = std::min(s, t);
      density = d;
    }
    const double ratio = s / dense_s, target = 1.5 * density + 0.05;
    const bool ok = ratio <= target;
    failures += ok ? 0 : 1;
    std::printf("%-58s %8.4f %10.1f %10.1f %8.3f %8.3f %4s\n", spec.c_str(), density, s * 1e3, dense_s * 1e3, ratio,
                target, ok ? "yes" : "NO");
    std::fflush(stdout);
  }
  std::printf("\nratio = time(pattern) / time(dense, timed alternately with it); target: ratio <= 1.5 x density + 0.05 (density = "
              "computed / causal query-key pairs, exact).\n");
  return failures;
}

int RunEndToEnd(int64_t n) {
  BenchModelShape shape;
  const std::string dir = absl::GetFlag(FLAGS_model_dir);
  if (absl::Status s = EnsureBenchModel(dir, shape); !s.ok()) {
    std::fprintf(stderr, "cannot create bench model: %s\n", s.ToString().c_str());
    return 1;
  }
  auto backend = NewCpuBackend();
  auto model = Model::Load(dir, *backend);
  if (!model.ok()) {
    std::fprintf(stderr, "%s\n", model.status().ToString().c_str());
    return 1;
  }
  std::mt19937 rng(7);
  std::uniform_int_distribution<int32_t> d(3, static_cast<int32_t>(shape.vocab - 1));
  std::vector<int32_t> tokens(n);
  for (auto& t : tokens) t = d(rng);
  const std::string spec = absl::StrCat("a_shape{n_init=128,n_local=", LocalForDensity(n, 128, 1.0 / 8), "}");
  const absl::StatusOr<PrefillPattern> pattern = ParsePrefillPattern(spec);
  std::printf("\nend-to-end prefill: bench model (%lld layers, hidden %lld, %lld/%lld heads), %lld tokens\n",
              (long long)shape.layers, (long long)shape.hidden, (long long)shape.heads, (long long)shape.kv_heads,
              (long long)n);
  std::printf("%-58s %8s %10s %8s\n", "prefill pattern", "density", "time s", "ratio");
  double dense_s = 0;
  for (const PrefillPattern* p : {static_cast<const PrefillPattern*>(nullptr), &*pattern}) {
    auto cache = (*model)->NewCache(n);
    ForwardStats stats;
    ForwardOptions o;
    o.pattern = p;
    o.stats = &stats;
    auto t0 = Clock::now();
    auto logits = (*model)->Forward(tokens, **cache, o);
    const double s = Seconds(t0);
    if (!logits.ok()) {
      std::fprintf(stderr, "%s\n", logits.status().ToString().c_str());
      return 1;
    }
    if (p == nullptr) dense_s = s;
    std::printf("%-58s %8.4f %10.2f %8.3f\n", p ? spec.c_str() : "dense", stats.density(), s, s / dense_s);
  }
  return 0;
}

}  // namespace
}  // namespace kvlab::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int64_t n = absl::GetFlag(FLAGS_tokens);
  int failures = kvlab::bench::RunOps(n, absl::GetFlag(FLAGS_reps));
  if (absl::GetFlag(FLAGS_e2e)) failures += kvlab::bench::RunEndToEnd(n);
  return failures == 0 ? 0 : 1;
}
