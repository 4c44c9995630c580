// bench/engine: prefill and decode speed of the engine as fractions of the
// limits measured in the same run, and the memory it takes.
//
// CPU (default): a ~110M-parameter Llama-shaped random model written to disk,
// against the sgemm peak and read bandwidth, plus kvlab-generate's peak RSS.
// CUDA (--backend=cuda --shape=llama3-8b): the Llama-3.1-8B shape with random
// bf16 weights generated in memory, against a cuBLAS bf16 GEMM of the prefill's
// size and a device-to-device copy, plus the sparse (A-shape) prefill time vs
// dense at the largest context and the device memory in use.
//
//   build/bench/engine_bench [--backend=cpu|cuda] [--shape=bench|llama3-8b]
//                            [--contexts=2048,8192] [--decode_steps=32]
//                            [--sparse_pattern='a_shape{n_init=128,n_local=4096}']
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
#include "bench/gpu_limits.h"
#include "bench/machine_limits.h"
#include "engine/backend.h"
#include "engine/backend_flags.h"
#include "engine/model.h"

ABSL_FLAG(std::vector<std::string>, contexts, std::vector<std::string>({"2048", "8192"}),
          "context lengths (tokens)");
ABSL_FLAG(int, decode_steps, 32, "decode steps timed after each prefill");
ABSL_FLAG(std::string, shape, "bench", "model shape: bench (~110M, on disk) or llama3-8b (random bf16, in memory)");
ABSL_FLAG(std::string, sparse_pattern, "a_shape{n_init=128,n_local=4096}",
          "prefill pattern timed against dense at the largest context (CUDA runs; empty: skip)");
ABSL_FLAG(std::string, model_dir, "bench-cache/llama-110m", "where the random bench-shape model is generated");
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
double DecodeBytes(const Model& m, int64_t kv_rows, DType kv_dtype) {
  const ModelConfig& c = m.config();
  const double embed =
      static_cast<double>(c.vocab_size) * c.hidden_size * DTypeSize(m.backend().MatrixDType(DType::kBF16));
  const double kv = 2.0 * c.num_layers * c.num_kv_heads * c.head_dim * DTypeSize(kv_dtype) * kv_rows;
  return static_cast<double>(m.weight_bytes()) - embed + kv;
}

// Runs kvlab-generate on `tokens` random prompt tokens and returns its peak
// RSS in bytes (0 when the binary is missing or fails).
int64_t GeneratePeakRss(const std::string& bin, const std::string& model, int64_t tokens, int64_t new_tokens) {
  if (!std::filesystem::exists(bin)) return 0;
  pid_t pid = fork();
  if (pid == 0) {
    std::vector<std::string> args = {bin, "--model=" + model, absl::StrCat("--prompt_tokens=", tokens),
                                     absl::StrCat("--max_new_tokens=", new_tokens), "--quiet"};
    for (std::string& a : BackendFlagArgs()) args.push_back(std::move(a));
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    freopen("/dev/null", "w", stdout);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  int status = 0;
  struct rusage ru;
  wait4(pid, &status, 0, &ru);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return 0;
  return static_cast<int64_t>(ru.ru_maxrss) * 1024;
}

// The Llama-3.1-8B architecture (its published config.json values).
absl::StatusOr<ModelConfig> Llama31_8B() {
  const nlohmann::json doc = {
      {"architectures", {"LlamaForCausalLM"}}, {"hidden_size", 4096}, {"intermediate_size", 14336},
      {"num_hidden_layers", 32}, {"num_attention_heads", 32}, {"num_key_value_heads", 8},
      {"vocab_size", 128256}, {"max_position_embeddings", 131072}, {"rms_norm_eps", 1e-5},
      {"rope_theta", 500000.0}, {"hidden_act", "silu"}, {"tie_word_embeddings", false},
      {"torch_dtype", "bfloat16"}, {"bos_token_id", 128000}, {"eos_token_id", {128001, 128008, 128009}},
      {"rope_scaling",
       {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0}, {"high_freq_factor", 4.0},
        {"original_max_position_embeddings", 8192}}}};
  return ModelConfig::FromJson(doc, "Llama-3.1-8B (built in)");
}

absl::StatusOr<std::unique_ptr<Model>> LoadBenchModel(Backend& backend) {
  if (absl::GetFlag(FLAGS_shape) == "llama3-8b") {
    absl::StatusOr<ModelConfig> config = Llama31_8B();
    if (!config.ok()) return config.status();
    std::printf("engine bench: Llama-3.1-8B shape, random weights generated in memory\n");
    return Model::CreateRandom(*config, backend, backend.MatrixDType(DType::kBF16));
  }
  if (absl::GetFlag(FLAGS_shape) != "bench") return absl::InvalidArgumentError("--shape must be bench or llama3-8b");
  BenchModelShape shape;
  const std::string dir = absl::GetFlag(FLAGS_model_dir);
  std::printf("engine bench: random Llama model, %lld layers, hidden %lld, %lld/%lld heads, ffn %lld, "
              "vocab %lld, %.1fM parameters\n",
              (long long)shape.layers, (long long)shape.hidden, (long long)shape.heads,
              (long long)shape.kv_heads, (long long)shape.ffn, (long long)shape.vocab,
              ParameterCount(shape) / 1e6);
  if (absl::Status s = EnsureBenchModel(dir, shape); !s.ok()) return s;
  return Model::Load(dir, backend);
}

// The figures the run is measured against: GFLOP/s and GB/s.
struct Limits {
  double flops = 0, bytes = 0;
  int device = -1;  // CUDA device, -1 on the CPU
};

absl::StatusOr<Limits> MeasureLimits(const Backend& backend, const ModelConfig& c, int64_t tokens) {
  Limits l;
  if (backend.device() == Device::kCpu) {
    l.flops = MeasureSgemmPeakGflops();
    l.bytes = MeasureReadBandwidthGBs();
    std::printf("machine: sgemm peak %.1f GFLOP/s (OpenBLAS, all threads), read bandwidth %.1f GB/s\n\n", l.flops,
                l.bytes);
    return l;
  }
  l.device = std::stoi(backend.name().substr(backend.name().find(':') + 1));
  absl::StatusOr<GpuLimits> g = MeasureGpuLimits(l.device, tokens, c.intermediate_size, c.hidden_size);
  if (!g.ok()) return g.status();
  l.flops = g->gemm_tflops * 1e3;
  l.bytes = g->copy_read_gbs;
  std::printf("device: %s; cuBLAS bf16 GEMM %lldx%lldx%lld %.1f TFLOP/s; device copy reads %.1f GB/s\n\n",
              g->device_name.c_str(), (long long)tokens, (long long)c.intermediate_size, (long long)c.hidden_size,
              g->gemm_tflops, g->copy_read_gbs);
  return l;
}

struct PrefillRun {
  double seconds = 0;
  ForwardStats stats;
};

// Prefills `n` random tokens into `cache` (with `pattern` if set).
absl::StatusOr<PrefillRun> Prefill(const Model& model, KvCache& cache, int64_t n, const PrefillPattern* pattern) {
  const auto tokens = RandomTokens(n, model.config().vocab_size);
  PrefillRun run;
  ForwardOptions opts;
  opts.pattern = pattern;
  opts.stats = &run.stats;
  auto t0 = std::chrono::steady_clock::now();
  auto logits = model.Forward(tokens, cache, opts);
  run.seconds = Seconds(t0);
  if (!logits.ok()) return logits.status();
  return run;
}

// One context: prefill, then decode steps; prints the row. Returns the dense
// prefill seconds.
absl::StatusOr<double> MeasureContext(const Model& model, const Limits& limits, int64_t n) {
  const ModelConfig& c = model.config();
  const int64_t steps = absl::GetFlag(FLAGS_decode_steps);
  auto cache = model.NewCache(n + steps + 1);
  if (!cache.ok()) return cache.status();
  absl::StatusOr<PrefillRun> prefill = Prefill(model, **cache, n, nullptr);
  if (!prefill.ok()) return prefill.status();
  const double gflops = ForwardFlops(c, 0, n) / prefill->seconds / 1e9;
  double decode_bytes = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < steps; ++i) {
    decode_bytes += DecodeBytes(model, n + i + 1, (*cache)->dtype());
    const int32_t id[1] = {static_cast<int32_t>(3 + i)};
    auto r = model.Forward(id, **cache);
    if (!r.ok()) return r.status();
  }
  const double decode_s = Seconds(t0);
  const double decode_gbs = decode_bytes / decode_s / 1e9;
  const double weights_mb = model.weight_bytes() / 1e6;
  const double kv_mb = 2.0 * c.num_layers * c.num_kv_heads * c.head_dim * DTypeSize((*cache)->dtype()) * (n + 16) / 1e6;
  std::string memory;
  if (limits.device >= 0) {
    memory = absl::StrFormat("%.1f GB", DeviceMemoryInUse(limits.device) / 1e9);
  } else {
    const int64_t rss = GeneratePeakRss(absl::GetFlag(FLAGS_generate_bin), absl::GetFlag(FLAGS_model_dir), n, 16);
    memory = rss > 0 ? absl::StrFormat("%.2f", rss / 1e6 / (weights_mb + kv_mb)) : "n/a";
  }
  std::printf("%-8lld %12.0f %10.1f %8.0f%% | %11.1f %10.1f %8.0f%% | %10.0f %10.0f %10s\n", (long long)n,
              n / prefill->seconds, gflops, 100.0 * gflops / limits.flops, steps / decode_s, decode_gbs,
              100.0 * decode_gbs / limits.bytes, weights_mb, kv_mb, memory.c_str());
  return prefill->seconds;
}

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "engine_bench: %s\n", s.ToString().c_str());
  return 1;
}

int Run() {
  absl::StatusOr<std::unique_ptr<Backend>> backend = BackendFromFlags();
  if (!backend.ok()) return Fail(backend.status());
  absl::StatusOr<std::unique_ptr<Model>> model = LoadBenchModel(**backend);
  if (!model.ok()) return Fail(model.status());
  std::vector<int64_t> contexts;
  for (const std::string& ctx : absl::GetFlag(FLAGS_contexts)) contexts.push_back(std::stoll(ctx));
  absl::StatusOr<Limits> limits = MeasureLimits(**backend, (*model)->config(), contexts.front());
  if (!limits.ok()) return Fail(limits.status());
  const bool gpu = limits->device >= 0;
  std::printf("backend %s, weights %s, KV %s\n", (*backend)->name().c_str(),
              std::string(DTypeName((*backend)->MatrixDType(DType::kBF16))).c_str(),
              std::string(DTypeName((*backend)->kv_dtype())).c_str());
  std::printf("%-8s %12s %10s %9s | %11s %10s %9s | %10s %10s %10s\n", "context", "prefill tok/s", "GFLOP/s",
              "of peak", "decode tok/s", "GB/s", "of bound", "weights MB", "KV MB", gpu ? "dev mem" : "RSS/x");
  double last_dense = 0;
  for (int64_t n : contexts) {
    absl::StatusOr<double> s = MeasureContext(**model, *limits, n);
    if (!s.ok()) return Fail(s.status());
    last_dense = *s;
  }
  if (gpu) {
    std::printf("\nof peak: prefill FLOP/s / cuBLAS bf16 GEMM (target >= 50%% at 8K); of bound: decode bytes read "
                "per second / device copy reads (target >= 70%%)\n");
  } else {
    std::printf("\nRSS/x: peak RSS of kvlab-generate (prompt of `context` random tokens + 16 new, same backend "
                "flags) divided by weights + KV cache; target <= 1.30.\nTargets: prefill >= 50%% of sgemm peak; decode >= "
                "50%% of the read-bandwidth bound.\n");
  }
  const std::string spec = absl::GetFlag(FLAGS_sparse_pattern);
  if (!gpu || spec.empty()) return 0;
  absl::StatusOr<PrefillPattern> pattern = ParsePrefillPattern(spec);
  if (!pattern.ok()) return Fail(pattern.status());
  auto cache = (*model)->NewCache(contexts.back() + 1);
  if (!cache.ok()) return Fail(cache.status());
  absl::StatusOr<PrefillRun> sparse = Prefill(**model, **cache, contexts.back(), &*pattern);
  if (!sparse.ok()) return Fail(sparse.status());
  const double ratio = sparse->seconds / last_dense, density = sparse->stats.density();
  std::printf("%s prefill at %lld: %.2f s vs dense %.2f s: time ratio %.3f, density %.3f (target: ratio <= "
              "density + 0.1: %s)\n",
              spec.c_str(), (long long)contexts.back(), sparse->seconds, last_dense, ratio, density,
              ratio <= density + 0.1 ? "met" : "NOT met");
  std::printf("peak device memory in use: %.1f GB\n", DeviceMemoryInUse(limits->device) / 1e9);
  return 0;
}

}  // namespace
}  // namespace kvlab::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return kvlab::bench::Run();
}
