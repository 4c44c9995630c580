// The op interface the model runs on. A backend owns tensor memory and
// executes ops, possibly asynchronously and on a device; callers only pass
// Tensors around and move data in and out through Upload/Download.
#ifndef KVLAB_ENGINE_BACKEND_H_
#define KVLAB_ENGINE_BACKEND_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/attention_pattern.h"
#include "engine/tensor.h"

namespace kvlab {

// One attention call: the newest `n` rows of a layer's KV cache are the keys
// and values of the `n` queries, which attend causally to every earlier row.
// Shapes: q, out [n, num_heads, head_dim] (f32); k, v [num_kv_heads, capacity,
// head_dim] in the backend's kv_dtype(). kv_len[h] is KV head h's number of valid rows (including the n
// new ones); heads may differ in length once a cache has been compressed.
struct AttentionStats {
  // Query-key pairs computed (summed over query heads), exactly as masked.
  int64_t computed_pairs = 0;
  // Pairs the dense mask (causal, plus the sliding window if any) allows.
  int64_t causal_pairs = 0;

  // computed / causal (1 when nothing was counted).
  double density() const {
    return causal_pairs == 0 ? 1.0 : static_cast<double>(computed_pairs) / static_cast<double>(causal_pairs);
  }
  void Add(const AttentionStats& o) {
    computed_pairs += o.computed_pairs;
    causal_pairs += o.causal_pairs;
  }
};

struct AttentionArgs {
  Tensor q;
  Tensor k;
  Tensor v;
  std::vector<int64_t> kv_len;
  float scale = 1.0f;
  // When > 0, query at cache row i only sees rows j with i - j < sliding_window.
  int64_t sliding_window = 0;
  Tensor out;

  // Sparse prefill (see PrefillPattern for the geometry, on cache rows). Null
  // or dense: dense attention. The n queries of this call belong to a
  // patterned span that continues for `pattern_rows_after` more queries in
  // later calls (chunked prefill): tri_shape's dense tail is the span's last
  // n_last queries. vertical_slash estimates from the span's last queries, so
  // it needs the whole span in one call (pattern_rows_after == 0, checked).
  // Not owned; must stay valid until the op has run.
  const PrefillPattern* pattern = nullptr;
  int64_t pattern_rows_after = 0;

  // Optional, f32 [num_heads, cols] on the backend: when defined, the op ADDS
  // to attention_mass[h, j] (j < cols) the softmax probability of every pair
  // (query of head h, key row j) it computes. Costs a second pass.
  Tensor attention_mass;
  // Optional: the op ADDS the pairs it computed and the dense pair count.
  // Written by the time the op has run (after Synchronize on async
  // backends). Not owned.
  AttentionStats* stats = nullptr;
};

// Ops are enqueued in order; a backend may run them asynchronously. Ops on
// malformed shapes are programming errors (checked). Device failures are
// sticky and reported by the next Synchronize/Download. A backend instance is
// not thread-safe: use one per thread of execution (the CPU backend
// parallelizes each op internally).
class Backend {
 public:
  virtual ~Backend() = default;

  virtual Device device() const = 0;
  // "cpu", "cuda:0", ...
  virtual std::string name() const = 0;
  // The element type KV caches are kept in on this backend: WriteKv,
  // CopyKvRows and Attention take K/V caches of this type.
  virtual DType kv_dtype() const = 0;
  // The element type weight matrices (embedding table, projections, LM head)
  // are held in when the checkpoint stores them as `stored`: Embed and Linear
  // take tables/weights of this type. Vectors (norms, biases) and
  // activations are always f32.
  virtual DType MatrixDType(DType stored) const = 0;
  // The largest head_dim Attention takes (Model::Load refuses larger ones).
  virtual int64_t max_head_dim() const { return int64_t{1} << 30; }

  // Allocates an uninitialized tensor. RESOURCE_EXHAUSTED when out of memory.
  virtual absl::StatusOr<Tensor> Allocate(DType dtype, std::vector<int64_t> shape) = 0;
  // Copies dst.bytes() bytes from host memory into dst.
  virtual absl::Status Upload(const void* host, const Tensor& dst) = 0;
  // Waits for pending ops, then copies src into host memory (src.bytes()).
  virtual absl::Status Download(const Tensor& src, void* host) = 0;
  // Waits for pending ops; returns the first failure since the last call.
  virtual absl::Status Synchronize() = 0;

  // out[i, :] = table[ids[i], :]. table [vocab, hidden] (MatrixDType), out
  // [n, hidden] f32. Ids must be in range (checked).
  virtual void Embed(const Tensor& table, std::span<const int32_t> ids, const Tensor& out) = 0;
  // out = x * rsqrt(mean(x^2) + eps) * weight, per row. x, out [n, d].
  virtual void RmsNorm(const Tensor& x, const Tensor& weight, float eps, const Tensor& out) = 0;
  // out = x @ w^T (+ bias). x [n, in] f32, w [out, in] (MatrixDType), bias
  // [out] f32 or undefined, out [n, out] f32. Products of 16-bit weights
  // accumulate in f32.
  virtual void Linear(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& out) = 0;
  // Fills table [n, head_dim/2, 2] with (cos, sin) of positions[i] * inv_freq[j],
  // computed in f32 as the Hugging Face implementation does.
  virtual void RopeTable(std::span<const int32_t> positions, std::span<const float> inv_freq,
                         const Tensor& table) = 0;
  // Rotates x [n, heads, head_dim] in place (rotate-half convention) by table.
  virtual void ApplyRope(const Tensor& x, const Tensor& table) = 0;
  // out = silu(gate) * up, elementwise.
  virtual void SwiGlu(const Tensor& gate, const Tensor& up, const Tensor& out) = 0;
  // x += y, elementwise.
  virtual void AddInPlace(const Tensor& x, const Tensor& y) = 0;
  // x += y, then out = RmsNorm(x) (one fused pass where the backend can).
  // out may alias y.
  virtual void AddRmsNorm(const Tensor& x, const Tensor& y, const Tensor& weight, float eps, const Tensor& out) = 0;
  // Writes src [n, num_kv_heads, head_dim] (f32) into cache [num_kv_heads,
  // capacity, head_dim] (kv_dtype, rounded to nearest even) at rows
  // row_begin[h] .. row_begin[h] + n - 1 of each head h.
  virtual void WriteKv(const Tensor& src, const Tensor& cache, std::span<const int64_t> row_begin) = 0;
  // Copies rows [0, rows) of every head from one cache tensor to another of
  // larger capacity (used when a cache grows).
  virtual void CopyKvRows(const Tensor& src, const Tensor& dst, int64_t rows) = 0;
  // Causal attention as described by AttentionArgs, without materializing the
  // full score matrix (block-wise online softmax). With a sparse pattern only
  // the kept pairs are computed (work proportional to them).
  virtual void Attention(const AttentionArgs& args) = 0;
};

// The CPU backend (f32 compute and KV, BLAS GEMMs, all cores). Weight
// matrices are held in `weights` (f32, or bf16/f16 to halve their memory:
// Linear widens blocks of rows to f32 just before multiplying them).
std::unique_ptr<Backend> NewCpuBackend(DType weights = DType::kF32);

// A backend by name: "cpu", "cuda" (device 0), "cuda:N", or "auto" (CUDA
// device 0 when one is visible, else the CPU). `kv_dtype` / `weights_dtype`
// ("", "f32", "f16", "bf16"; empty: the backend's default) choose the KV
// cache and weight-matrix element types. INVALID_ARGUMENT for an unknown name
// or a dtype the backend cannot hold; UNAVAILABLE when CUDA is asked for and
// the build or the machine has none.
absl::StatusOr<std::unique_ptr<Backend>> NewBackend(std::string_view spec, std::string_view kv_dtype = "",
                                                    std::string_view weights_dtype = "");

}  // namespace kvlab

#endif  // KVLAB_ENGINE_BACKEND_H_
