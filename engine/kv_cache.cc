#include "engine/kv_cache.h"

#include <algorithm>

#include "common/check.h"
#include "common/status_macros.h"

namespace kvlab {

absl::StatusOr<std::unique_ptr<KvCache>> KvCache::Create(Backend& backend, const ModelConfig& config,
                                                         int64_t capacity) {
  auto cache = std::unique_ptr<KvCache>(new KvCache(backend, config.num_kv_heads, config.head_dim));
  cache->layers_.resize(config.num_layers);
  for (Layer& layer : cache->layers_) {
    layer.length.assign(config.num_kv_heads, 0);
    layer.positions.resize(config.num_kv_heads);
  }
  KVLAB_RETURN_IF_ERROR(cache->Reserve(std::max<int64_t>(capacity, 1)));
  return cache;
}

int64_t KvCache::max_length() const {
  int64_t m = 0;
  for (const Layer& l : layers_) m = std::max(m, *std::max_element(l.length.begin(), l.length.end()));
  return m;
}

int64_t KvCache::used_bytes() const {
  int64_t rows = 0;
  for (const Layer& l : layers_) {
    for (int64_t len : l.length) rows += len;
  }
  return rows * head_dim_ * 2 * static_cast<int64_t>(sizeof(float));
}

absl::Status KvCache::Reserve(int64_t extra) {
  const int64_t needed = max_length() + extra;
  if (needed <= capacity_) return absl::OkStatus();
  // Grow geometrically so repeated single-token appends stay amortized O(1).
  const int64_t new_capacity = std::max(needed, capacity_ + capacity_ / 2);
  const int64_t rows = max_length();
  for (Layer& layer : layers_) {
    KVLAB_ASSIGN_OR_RETURN(Tensor k, backend_.Allocate(DType::kF32, {num_kv_heads_, new_capacity, head_dim_}));
    KVLAB_ASSIGN_OR_RETURN(Tensor v, backend_.Allocate(DType::kF32, {num_kv_heads_, new_capacity, head_dim_}));
    if (layer.k.defined() && rows > 0) {
      backend_.CopyKvRows(layer.k, k, rows);
      backend_.CopyKvRows(layer.v, v, rows);
    }
    layer.k = std::move(k);
    layer.v = std::move(v);
  }
  capacity_ = new_capacity;
  return absl::OkStatus();
}

void KvCache::Append(int64_t layer_index, const Tensor& k, const Tensor& v, int64_t first_position) {
  Layer& layer = layers_[layer_index];
  const int64_t n = k.dim(0);
  backend_.WriteKv(k, layer.k, layer.length);
  backend_.WriteKv(v, layer.v, layer.length);
  for (int64_t h = 0; h < num_kv_heads_; ++h) {
    CHECK_LE(layer.length[h] + n, capacity_);
    layer.length[h] += n;
    for (int64_t i = 0; i < n; ++i) layer.positions[h].push_back(static_cast<int32_t>(first_position + i));
  }
}

void KvCache::CommitTokens(std::span<const int32_t> tokens) {
  tokens_.insert(tokens_.end(), tokens.begin(), tokens.end());
  next_position_ += static_cast<int64_t>(tokens.size());
}

}  // namespace kvlab
