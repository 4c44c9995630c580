#include "engine/observation.h"

#include <algorithm>

#include "common/check.h"

namespace kvlab {

std::vector<float> Observation::KvHeadMass(int64_t layer) const {
  CHECK(layer >= 0 && layer < static_cast<int64_t>(layers.size())) << "observation: layer out of range";
  const std::vector<float>& mass = layers[layer].attention_mass;
  if (mass.empty()) return {};
  CHECK_EQ(static_cast<int64_t>(mass.size()), num_heads * n_keys);
  const int64_t group = num_heads / num_kv_heads;
  std::vector<float> out(num_kv_heads * n_keys, 0.0f);
  for (int64_t h = 0; h < num_heads; ++h) {
    float* dst = out.data() + (h / group) * n_keys;
    const float* src = mass.data() + h * n_keys;
    for (int64_t j = 0; j < n_keys; ++j) dst[j] += src[j];
  }
  const float inv = 1.0f / static_cast<float>(group);
  for (float& x : out) x *= inv;
  return out;
}

std::vector<float> Observation::KvHeadWindowQueries(int64_t layer) const {
  CHECK(layer >= 0 && layer < static_cast<int64_t>(layers.size())) << "observation: layer out of range";
  const std::vector<float>& q = layers[layer].window_queries;
  CHECK_EQ(static_cast<int64_t>(q.size()), window * num_heads * head_dim);
  const int64_t group = num_heads / num_kv_heads;
  std::vector<float> out(q.size());
  for (int64_t i = 0; i < window; ++i) {
    for (int64_t h = 0; h < num_heads; ++h) {
      const float* src = q.data() + (i * num_heads + h) * head_dim;
      float* dst = out.data() + (((h / group) * window + i) * group + h % group) * head_dim;
      std::copy(src, src + head_dim, dst);
    }
  }
  return out;
}

}  // namespace kvlab
