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
  return rows * head_dim_ * 2 * static_cast<int64_t>(DTypeSize(dtype()));
}

absl::Status KvCache::Reserve(int64_t extra) {
  const int64_t needed = max_length() + extra;
  if (needed <= capacity_) return absl::OkStatus();
  // Grow geometrically so repeated single-token appends stay amortized O(1).
  const int64_t new_capacity = std::max(needed, capacity_ + capacity_ / 2);
  const int64_t rows = max_length();
  for (Layer& layer : layers_) {
    KVLAB_ASSIGN_OR_RETURN(Tensor k, backend_.Allocate(dtype(), {num_kv_heads_, new_capacity, head_dim_}));
    KVLAB_ASSIGN_OR_RETURN(Tensor v, backend_.Allocate(dtype(), {num_kv_heads_, new_capacity, head_dim_}));
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

namespace {

// Rows [0, rows) of head `head` of a [heads, capacity, head_dim] tensor, as a
// [rows, head_dim] view.
Tensor HeadRows(const Tensor& t, int64_t head, int64_t rows) {
  const int64_t cap = t.dim(1), hd = t.dim(2);
  return t.Reshape({t.dim(0) * cap, hd}).Slice(head * cap, head * cap + rows);
}

// Host f32 rows into `dst` of any dtype (rounded to nearest even).
absl::Status UploadRows(Backend& backend, std::span<const float> rows, const Tensor& dst) {
  if (dst.dtype() == DType::kF32) return backend.Upload(rows.data(), dst);
  std::vector<uint16_t> narrow(rows.size());
  ConvertFromF32(dst.dtype(), rows.data(), rows.size(), narrow.data());
  return backend.Upload(narrow.data(), dst);
}

// `src` of any dtype into host f32 rows.
absl::Status DownloadRows(Backend& backend, const Tensor& src, float* rows) {
  if (src.dtype() == DType::kF32) return backend.Download(src, rows);
  std::vector<uint16_t> narrow(src.num_elements());
  KVLAB_RETURN_IF_ERROR(backend.Download(src, narrow.data()));
  ConvertToF32(src.dtype(), narrow.data(), narrow.size(), rows);
  return absl::OkStatus();
}

}  // namespace

absl::Status KvCache::SetHead(int64_t layer_index, int64_t head, std::span<const float> k,
                              std::span<const float> v, std::vector<int32_t> positions) {
  if (layer_index < 0 || layer_index >= num_layers() || head < 0 || head >= num_kv_heads_) {
    return absl::InvalidArgumentError("KV cache: layer or head out of range");
  }
  const int64_t rows = static_cast<int64_t>(positions.size());
  if (static_cast<int64_t>(k.size()) != rows * head_dim_ || static_cast<int64_t>(v.size()) != rows * head_dim_) {
    return absl::InvalidArgumentError("KV cache: K/V sizes do not match the number of positions");
  }
  if (rows > capacity_) KVLAB_RETURN_IF_ERROR(Reserve(rows - max_length()));
  Layer& layer = layers_[layer_index];
  if (rows > 0) {
    KVLAB_RETURN_IF_ERROR(UploadRows(backend_, k, HeadRows(layer.k, head, rows)));
    KVLAB_RETURN_IF_ERROR(UploadRows(backend_, v, HeadRows(layer.v, head, rows)));
  }
  layer.length[head] = rows;
  layer.positions[head] = std::move(positions);
  return absl::OkStatus();
}

absl::Status KvCache::ReadHead(int64_t layer_index, int64_t head, std::vector<float>* k,
                               std::vector<float>* v) const {
  if (layer_index < 0 || layer_index >= num_layers() || head < 0 || head >= num_kv_heads_) {
    return absl::InvalidArgumentError("KV cache: layer or head out of range");
  }
  const Layer& layer = layers_[layer_index];
  const int64_t rows = layer.length[head];
  k->resize(rows * head_dim_);
  v->resize(rows * head_dim_);
  if (rows == 0) return absl::OkStatus();
  KVLAB_RETURN_IF_ERROR(DownloadRows(backend_, HeadRows(layer.k, head, rows), k->data()));
  return DownloadRows(backend_, HeadRows(layer.v, head, rows), v->data());
}

void KvCache::SetTokens(std::vector<int32_t> tokens, int64_t next_position) {
  tokens_ = std::move(tokens);
  next_position_ = next_position;
}

absl::Status KvCache::DropNewest(int64_t n) {
  if (n < 0 || n > static_cast<int64_t>(tokens_.size())) {
    return absl::FailedPreconditionError("KV cache: cannot drop more tokens than were fed");
  }
  for (const Layer& layer : layers_) {
    for (int64_t h = 0; h < num_kv_heads_; ++h) {
      const auto& pos = layer.positions[h];
      if (layer.length[h] < n ||
          (n > 0 && (pos.back() != next_position_ - 1 || pos[pos.size() - n] != next_position_ - n))) {
        return absl::FailedPreconditionError(
            "KV cache: the newest rows are not the newest tokens (evicted while decoding)");
      }
    }
  }
  for (Layer& layer : layers_) {
    for (int64_t h = 0; h < num_kv_heads_; ++h) {
      layer.length[h] -= n;
      layer.positions[h].resize(layer.length[h]);
    }
  }
  tokens_.resize(tokens_.size() - n);
  next_position_ -= n;
  return absl::OkStatus();
}

void KvCache::CommitTokens(std::span<const int32_t> tokens) {
  tokens_.insert(tokens_.end(), tokens.begin(), tokens.end());
  next_position_ += static_cast<int64_t>(tokens.size());
}

}  // namespace kvlab
