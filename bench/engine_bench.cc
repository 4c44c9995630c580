// bench/engine: prefill and decode speed of the CPU engine on a ~110M-parameter
// Llama-shaped random model, as fractions of this machine's measured limits,
// and the peak memory of kvlab-generate.
//
//   build/bench/engine_bench [--contexts=2048,8192] [--decode_steps=32]
//                            [--model_dir=build/bench-cache/llama-110m]
//                            [--generate_bin=build/tools/kvlab-generate]
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/bench_model.h"
#include "bench/machine_limits.h"
#include "engine/backend.h"
#include "engine/model.h"

ABSL_FLAG(std::vector<std::string>, contexts, std::vector<std::string>({"2048", "8192"}),
          "context lengths (tokens)");
ABSL_FLAG(int, decode_steps, 32, "decode steps timed after each prefill");
ABSL_FLAG(std::string, model_dir, "bench-cache/llama-110m", "where the random model is generated");
ABSL_FLAG(std::string, generate_bin, "tools/kvlab-generate",
          "kvlab-generate binary for the peak-RSS check (skipped when absent)");

namespace kvlab::bench {
namespace {

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::vector<int32_t> RandomTokens(int64_t n, int64_t vocab) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int32_t> d(3, static_cast<int32_t>(vocab - 1));
  std::vector<int32_t> ids(n);
  for (auto& x : ids) x = d(rng);
  return ids;
}

// FLOPs of feeding n tokens after `prior` cached ones, counting only the
// causal query-key pairs, and the LM head for one row.
double ForwardFlops(const ModelConfig& c, int64_t prior, int64_t n) {
  const double hd = c.head_dim;
  const double linear = 2.0 * (c.hidden_size * c.num_heads * hd * 2 + c.hidden_size * c.num_kv_heads * hd * 2 +
                               3.0 * c.hidden_size * c.intermediate_size);
  const double pairs = static_cast<double>(n) * prior + static_cast<double>(n) * (n + 1) / 2.0;
  const double attention = 4.0 * hd * c.num_heads * pairs;
  return c.num_layers * (linear * n + attention) + 2.0 * c.hidden_size * c.vocab_size;
}

// Bytes a decode step must read: every weight except the embedding table
// (one row), plus all cached K and V.
double DecodeBytes(const Model& m, int64_t kv_rows) {
  const ModelConfig& c = m.config();
  const double embed = static_cast<double>(c.vocab_size) * c.hidden_size * 4;
  const double kv = 2.0 * c.num_layers * c.num_kv_heads * c.head_dim * 4.0 * kv_rows;
  return static_cast<double>(m.weight_bytes()) - embed + kv;
}

// Runs kvlab-generate on `tokens` random prompt tokens and returns its peak
// RSS in bytes (0 when the binary is missing or fails).
int64_t GeneratePeakRss(const std::string& bin, const std::string& model, int64_t tokens, int64_t new_tokens) {
  if (!std::filesystem::exists(bin)) return 0;
  pid_t pid = fork();
  if (pid == 0) {
    std::string a1 = "--model=" + model, a2 = absl::StrCat("--prompt_tokens=", tokens),
                a3 = absl::StrCat("--max_new_tokens=", new_tokens);
    freopen("/dev/null", "w", stdout);
    execl(bin.c_str(), bin.c_str(), a1.c_str(), a2.c_str(), a3.c_str(), "--quiet", nullptr);
    _exit(127);
  }
  int status = 0;
  struct rusage ru;
  wait4(pid, &status, 0, &ru);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return 0;
  return static_cast<int64_t>(ru.ru_maxrss) * 1024;
}

int Run() {
  BenchModelShape shape;
  const std::string dir = absl::GetFlag(FLAGS_model_dir);
  std::printf("engine bench: random Llama model, %lld layers, hidden %lld, %lld/%lld heads, ffn %lld, "
              "vocab %lld, %.1fM parameters\n",
              (long long)shape.layers, (long long)shape.hidden, (long long)shape.heads,
              (long long)shape.kv_heads, (long long)shape.ffn, (long long)shape.vocab,
              ParameterCount(shape) / 1e6);
  if (absl::Status s = EnsureBenchModel(dir, shape); !s.ok()) {
    std::fprintf(stderr, "cannot create bench model: %s\n", s.ToString().c_str());
    return 1;
  }
  const double peak = MeasureSgemmPeakGflops();
  const double bw = MeasureReadBandwidthGBs();
  std::printf("machine: sgemm peak %.1f GFLOP/s (OpenBLAS, all threads), read bandwidth %.1f GB/s\n\n",
              peak, bw);

  auto backend = NewCpuBackend();
  auto model = Model::Load(dir, *backend);
  if (!model.ok()) {
    std::fprintf(stderr, "%s\n", model.status().ToString().c_str());
    return 1;
  }
  const ModelConfig& c = (*model)->config();
  std::printf("%-8s %12s %10s %9s | %11s %10s %9s | %10s %10s %6s\n", "context", "prefill tok/s",
              "GFLOP/s", "of peak", "decode tok/s", "GB/s", "of bound", "weights MB", "KV MB", "RSS/x");
  for (const std::string& ctx : absl::GetFlag(FLAGS_contexts)) {
    const int64_t n = std::stoll(ctx);
    const int64_t steps = absl::GetFlag(FLAGS_decode_steps);
    auto tokens = RandomTokens(n, c.vocab_size);
    auto cache = (*model)->NewCache(n + steps + 1);
    auto t0 = std::chrono::steady_clock::now();
    auto logits = (*model)->Forward(tokens, **cache);
    const double prefill_s = Seconds(t0);
    if (!logits.ok()) {
      std::fprintf(stderr, "%s\n", logits.status().ToString().c_str());
      return 1;
    }
    const double gflops = ForwardFlops(c, 0, n) / prefill_s / 1e9;
    double decode_bytes = 0;
    t0 = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < steps; ++i) {
      decode_bytes += DecodeBytes(**model, n + i + 1);
      const int32_t id[1] = {static_cast<int32_t>(3 + i)};
      auto r = (*model)->Forward(id, **cache);
      if (!r.ok()) return 1;
    }
    const double decode_s = Seconds(t0);
    const double decode_gbs = decode_bytes / decode_s / 1e9;
    const double weights_mb = (*model)->weight_bytes() / 1e6;
    const double kv_mb = 2.0 * c.num_layers * c.num_kv_heads * c.head_dim * 4.0 * (n + 16) / 1e6;
    const int64_t rss = GeneratePeakRss(absl::GetFlag(FLAGS_generate_bin), dir, n, 16);
    std::printf("%-8lld %12.0f %10.1f %8.0f%% | %11.1f %10.1f %8.0f%% | %10.0f %10.0f %6s\n", (long long)n,
                n / prefill_s, gflops, 100.0 * gflops / peak, steps / decode_s, decode_gbs,
                100.0 * decode_gbs / bw, weights_mb, kv_mb,
                rss > 0 ? absl::StrFormat("%.2f", rss / 1e6 / (weights_mb + kv_mb)).c_str() : "n/a");
  }
  std::printf("\nRSS/x: peak RSS of kvlab-generate (prompt of `context` random tokens + 16 new) divided by "
              "f32 weights + KV cache; target <= 1.30.\nTargets: prefill >= 50%% of sgemm peak; decode >= "
              "50%% of the read-bandwidth bound.\n");
  return 0;
}

}  // namespace
}  // namespace kvlab::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return kvlab::bench::Run();
}
