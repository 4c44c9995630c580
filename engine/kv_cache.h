// The engine's per-sequence KV cache: for every layer and KV head, the keys
// (post-RoPE) and values of the tokens seen so far, with their positions.
#ifndef KVLAB_ENGINE_KV_CACHE_H_
#define KVLAB_ENGINE_KV_CACHE_H_

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/backend.h"
#include "engine/model_config.h"

namespace kvlab {

// Storage per layer: K and V tensors [num_kv_heads, capacity, head_dim] on the
// backend, in its kv_dtype() (f32 on the CPU, bf16 on CUDA by default), plus host-side bookkeeping: the number of valid rows of each head
// and the original token position of each row. Heads of a layer may hold
// different numbers of rows (after per-head compression); appended tokens go
// to the end of every head. Not thread-safe.
class KvCache {
 public:
  // Allocates a cache for `config` with room for `capacity` rows per head.
  // RESOURCE_EXHAUSTED when the backend cannot allocate it.
  static absl::StatusOr<std::unique_ptr<KvCache>> Create(Backend& backend, const ModelConfig& config,
                                                         int64_t capacity);

  int64_t num_layers() const { return static_cast<int64_t>(layers_.size()); }
  int64_t num_kv_heads() const { return num_kv_heads_; }
  int64_t head_dim() const { return head_dim_; }
  int64_t capacity() const { return capacity_; }
  // Element type of the K/V tensors (the backend's kv_dtype()).
  DType dtype() const { return backend_.kv_dtype(); }

  // Number of tokens fed through the model into this cache; the next token
  // gets this position.
  int64_t next_position() const { return next_position_; }
  // Token ids fed so far, in order.
  const std::vector<int32_t>& tokens() const { return tokens_; }

  const Tensor& k(int64_t layer) const { return layers_[layer].k; }
  const Tensor& v(int64_t layer) const { return layers_[layer].v; }
  int64_t length(int64_t layer, int64_t head) const { return layers_[layer].length[head]; }
  const std::vector<int64_t>& lengths(int64_t layer) const { return layers_[layer].length; }
  // Original positions of the rows of (layer, head).
  const std::vector<int32_t>& positions(int64_t layer, int64_t head) const {
    return layers_[layer].positions[head];
  }
  // Largest row count over all heads and layers.
  int64_t max_length() const;
  // Bytes of valid K/V rows held (in dtype()), over all layers and heads.
  int64_t used_bytes() const;

  // Grows capacity (copying the valid rows) so that `extra` more rows fit in
  // every head. RESOURCE_EXHAUSTED on allocation failure.
  absl::Status Reserve(int64_t extra);

  // Replaces the rows of (layer, head) with `rows` = positions.size() rows
  // given on the host as k, v [rows, head_dim] (K with RoPE applied at
  // `positions`; rounded to dtype()). Reserves capacity as needed. INVALID_ARGUMENT on size
  // mismatch; backend errors otherwise.
  absl::Status SetHead(int64_t layer, int64_t head, std::span<const float> k, std::span<const float> v,
                       std::vector<int32_t> positions);
  // Copies the valid rows of (layer, head) to the host ([rows, head_dim] each,
  // widened to f32).
  absl::Status ReadHead(int64_t layer, int64_t head, std::vector<float>* k, std::vector<float>* v) const;
  // Sets the token history and the next position (used when importing).
  void SetTokens(std::vector<int32_t> tokens, int64_t next_position);
  // Drops the newest `n` rows of every head and the last `n` tokens, undoing
  // the latest appends (e.g. generated tokens in gold-answer mode).
  // FAILED_PRECONDITION when some head holds fewer than n rows or its newest
  // rows are not the newest positions (the cache was evicted while decoding).
  absl::Status DropNewest(int64_t n);

  // For the model's forward: writes the K and V of n new tokens
  // ([n, num_kv_heads, head_dim]) at the end of every head of `layer` and
  // extends its lengths and positions. Capacity must have been reserved.
  void Append(int64_t layer, const Tensor& k, const Tensor& v, int64_t first_position);
  // For the model's forward: records that tokens were fed (after all layers).
  void CommitTokens(std::span<const int32_t> tokens);

 private:
  struct Layer {
    Tensor k, v;
    std::vector<int64_t> length;
    std::vector<std::vector<int32_t>> positions;
  };
  KvCache(Backend& backend, int64_t heads, int64_t head_dim)
      : backend_(backend), num_kv_heads_(heads), head_dim_(head_dim) {}

  Backend& backend_;
  int64_t num_kv_heads_;
  int64_t head_dim_;
  int64_t capacity_ = 0;
  int64_t next_position_ = 0;
  std::vector<int32_t> tokens_;
  std::vector<Layer> layers_;
};

}  // namespace kvlab

#endif  // KVLAB_ENGINE_KV_CACHE_H_
