// bench/compress: time of the local compressor per KV policy on a synthetic
// entry shaped like Llama-3-8B's KV (32 layers x 8 KV heads x 128 dims, 32
// query heads) at 16K tokens, and as a fraction of the bench model's prefill
// of the same context length (target <= 10%).
//
// The entry is f16 (a 32-layer f16 entry is 2 GiB, 4 GiB in f32): by default
// `--layers=8` layers are built and timed and the time is scaled linearly to
// `--scale_layers=32` (every policy's cost is per layer; ChunkKV's index reuse
// only needs --layers to be a multiple of reuse_layers).
//
//   build/bench/compress_bench [--tokens=16384] [--layers=8] [--prefill=true] [--only=snapkv]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/bench_model.h"
#include "common/large_buffer_heap.h"
#include "engine/backend.h"
#include "engine/model.h"
#include "kvcache/codec.h"
#include "kvcache/kv_entry.h"
#include "services/compressor/compressor.h"

ABSL_FLAG(int64_t, tokens, 16384, "context length");
ABSL_FLAG(int64_t, layers, 8, "layers built and timed");
ABSL_FLAG(int64_t, scale_layers, 32, "layers the time is scaled to");
ABSL_FLAG(int64_t, kv_heads, 8, "KV heads");
ABSL_FLAG(int64_t, q_heads, 32, "query heads");
ABSL_FLAG(int64_t, head_dim, 128, "head dimension");
ABSL_FLAG(bool, prefill, true, "also time the bench model's prefill of --tokens (once)");
ABSL_FLAG(double, prefill_seconds, 0, "use this prefill time instead of measuring it");
ABSL_FLAG(std::string, only, "", "time only the policies whose spec contains this text");
ABSL_FLAG(std::string, model_dir, "bench-cache/llama-110m", "where the random bench model is generated");

namespace kvlab::bench {
namespace {

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string Bytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

CompressInput MakeInput(int64_t layers, int64_t n, int64_t kv, int64_t hq, int64_t d) {
  CompressInput in;
  auto codec = *MakeCodec("f16");
  auto& h = in.entry.header;
  h.set_format_version(kKvEntryFormatVersion);
  h.set_model_fingerprint("synthetic");
  h.set_codec("f16");
  for (int64_t i = 0; i < n; ++i) h.add_tokens(static_cast<int32_t>(i % 32000));
  h.set_num_layers(layers);
  h.set_num_kv_heads(kv);
  h.set_head_dim(d);
  h.set_next_position(n);
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> k(n * d), v(n * d);
  const int64_t w = 32;
  for (int64_t l = 0; l < layers; ++l) {
    v1::KvLayer layer;
    for (int64_t hd = 0; hd < kv; ++hd) {
      for (float& x : k) x = dist(rng);
      for (float& x : v) x = dist(rng);
      v1::KvHead* head = layer.add_heads();
      for (int64_t i = 0; i < n; ++i) head->add_positions(static_cast<int32_t>(i));
      head->set_payload(codec->Encode(k, v, d));
      h.add_kept(n);
    }
    in.entry.layers.push_back(layer.SerializeAsString());
    std::vector<float> q(w * hq * d), mass(hq * n);
    for (float& x : q) x = dist(rng) * 2.0f;
    for (float& x : mass) x = std::abs(dist(rng));
    v1::LayerObservation o;
    o.set_layer(static_cast<int32_t>(l));
    o.set_window_queries(Bytes(q));
    o.set_attention_mass(Bytes(mass));
    in.observations.push_back(std::move(o));
  }
  SealEntry(in.entry);
  return in;
}

double PrefillSeconds(int64_t n) {
  BenchModelShape shape;
  const std::string dir = absl::GetFlag(FLAGS_model_dir);
  if (absl::Status s = EnsureBenchModel(dir, shape); !s.ok()) {
    std::fprintf(stderr, "bench model: %s\n", std::string(s.message()).c_str());
    return 0;
  }
  auto backend = NewCpuBackend();
  auto model = Model::Load(dir, *backend);
  if (!model.ok()) return 0;
  std::mt19937 rng(7);
  std::uniform_int_distribution<int32_t> d(3, static_cast<int32_t>(shape.vocab - 1));
  std::vector<int32_t> ids(n);
  for (auto& x : ids) x = d(rng);
  auto cache = (*model)->NewCache(n);
  auto t0 = std::chrono::steady_clock::now();
  auto r = (*model)->Forward(ids, **cache);
  return r.ok() ? Seconds(t0) : 0;
}

int Main() {
  const int64_t n = absl::GetFlag(FLAGS_tokens), layers = absl::GetFlag(FLAGS_layers);
  const int64_t scale_to = absl::GetFlag(FLAGS_scale_layers), kv = absl::GetFlag(FLAGS_kv_heads);
  const int64_t hq = absl::GetFlag(FLAGS_q_heads), d = absl::GetFlag(FLAGS_head_dim);
  double prefill = absl::GetFlag(FLAGS_prefill_seconds);
  if (prefill <= 0 && absl::GetFlag(FLAGS_prefill)) prefill = PrefillSeconds(n);
  std::printf("synthetic entry: %ld layers (timed) x %ld KV heads x %ld tokens x %ld dims, f16, %ld query heads;"
              " times scaled x%.1f to %ld layers\n",
              layers, kv, n, d, hq, static_cast<double>(scale_to) / layers, scale_to);
  if (prefill > 0) std::printf("bench model prefill of %ld tokens: %.1f s\n", n, prefill);
  CompressInput input = MakeInput(layers, n, kv, hq, d);
  auto compressor = NewLocalCompressor();
  const std::string cap = absl::StrCat(n / 8);  // 8x fewer rows
  const std::vector<std::string> policies = {
      "full{dtype=f16}",
      absl::StrCat("streamingllm{n_sink=128,n_recent=", n / 8 - 128, "}"),
      "h2o{heavy=0.0625,recent=0.0625}",
      absl::StrCat("snapkv{capacity=", cap, "}"),
      absl::StrCat("pyramidkv{capacity=", cap, "}"),
      absl::StrCat("chunkkv{capacity=", cap, ",reuse_layers=1}"),
      absl::StrCat("chunkkv{capacity=", cap, ",reuse_layers=2}"),
      absl::StrCat("chunkkv{capacity=", cap, ",reuse_layers=4}"),
      absl::StrCat("chunkkv{capacity=", cap, ",reuse_layers=8}"),
      "kivi{bits=2,group=32,residual=128}",
      "flexgen{bits=4,group=64}",
      absl::StrCat("snapkv{capacity=", cap, "}+kivi{bits=4}"),
  };
  std::printf("\n| policy | ms (%ld layers) | s (scaled to %ld layers) | %% of prefill | ratio vs f16 |\n", layers,
              scale_to);
  std::printf("|---|---|---|---|---|\n");
  for (const std::string& kvp : policies) {
    if (kvp.find(absl::GetFlag(FLAGS_only)) == std::string::npos) continue;
    // The compressor is a long-lived server: the first run also pays for
    // growing the heap (page faults), so the figure is the warm second run.
    double s = 0;
    absl::StatusOr<KvEntry> out;
    for (int run = 0; run < 2; ++run) {
      out = absl::StatusOr<KvEntry>();  // release the previous output, as a server does once it is sent
      CompressInput copy = input;
      auto t0 = std::chrono::steady_clock::now();
      out = compressor->Compress(std::move(copy), "kv=" + kvp);
      s = Seconds(t0);
      if (!out.ok()) break;
    }
    if (!out.ok()) {
      std::printf("| %s | error: %s |\n", kvp.c_str(), std::string(out.status().message()).c_str());
      continue;
    }
    const double scaled = s * static_cast<double>(scale_to) / static_cast<double>(layers);
    const double ratio = static_cast<double>(FullF16Bytes(out->header)) / static_cast<double>(out->payload_bytes());
    std::printf("| %s | %.0f | %.2f | %s | %.2fx |\n", kvp.c_str(), s * 1000, scaled,
                prefill > 0 ? absl::StrFormat("%.1f%%", 100 * scaled / prefill).c_str() : "-", ratio);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace
}  // namespace kvlab::bench

int main(int argc, char** argv) {
  kvlab::SetUpLargeBufferHeap(argv);
  absl::ParseCommandLine(argc, argv);
  return kvlab::bench::Main();
}
