#include "engine/kv_eviction.h"

#include <algorithm>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace kvlab {

std::vector<int64_t> DecodeKeptRows(const DecodeEvictionConfig& config, int64_t length,
                                    std::span<const float> mass) {
  std::vector<int64_t> kept;
  if (length <= config.budget()) {
    kept.resize(length);
    std::iota(kept.begin(), kept.end(), 0);
    return kept;
  }
  if (config.kind == DecodeEvictionConfig::Kind::kStreamingLlm) {
    for (int64_t i = 0; i < config.n_sink; ++i) kept.push_back(i);
    for (int64_t i = length - config.n_recent; i < length; ++i) kept.push_back(i);
    return kept;
  }
  // H2O: the newest `recent` rows plus the `heavy` older rows of most mass;
  // ties keep the older row (evict the newest candidate).
  const int64_t candidates = length - config.recent;
  std::vector<int64_t> order(candidates);
  std::iota(order.begin(), order.end(), 0);
  auto m = [&](int64_t i) { return i < static_cast<int64_t>(mass.size()) ? mass[i] : 0.0f; };
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return m(a) > m(b); });
  order.resize(config.heavy);
  std::sort(order.begin(), order.end());
  kept = std::move(order);
  for (int64_t i = candidates; i < length; ++i) kept.push_back(i);
  return kept;
}

std::vector<std::vector<float>>& DecodeEvictor::Mass(int64_t layer) {
  if (static_cast<int64_t>(mass_.size()) <= layer) mass_.resize(layer + 1);
  return mass_[layer];
}

absl::Status DecodeEvictor::AddMass(int64_t layer, int64_t head, std::span<const float> mass) {
  if (layer < 0 || head < 0) return absl::InvalidArgumentError("decode eviction: negative layer or head");
  auto& heads = Mass(layer);
  if (static_cast<int64_t>(heads.size()) <= head) heads.resize(head + 1);
  std::vector<float>& acc = heads[head];
  if (mass.size() < acc.size()) {
    return absl::InvalidArgumentError(absl::StrCat("decode eviction: mass for ", mass.size(),
                                                   " rows but layer ", layer, " head ", head, " holds ",
                                                   acc.size(), " known rows"));
  }
  acc.resize(mass.size(), 0.0f);  // rows appended since the last call start at 0
  for (size_t i = 0; i < mass.size(); ++i) acc[i] += mass[i];
  return absl::OkStatus();
}

absl::Status DecodeEvictor::EvictToBudget(KvCache& cache) {
  const int64_t budget = config_.budget();
  std::vector<float> k, v, nk, nv;
  const int64_t hd = cache.head_dim();
  if (config_.kind == DecodeEvictionConfig::Kind::kH2O && step_observation_ != nullptr &&
      static_cast<int64_t>(step_observation_->layers.size()) == cache.num_layers()) {
    for (int64_t l = 0; l < cache.num_layers(); ++l) {
      const std::vector<float> m = step_observation_->KvHeadMass(l);  // [kv_heads, n_keys]
      const int64_t keys = step_observation_->n_keys;
      if (m.empty()) continue;
      for (int64_t h = 0; h < cache.num_kv_heads(); ++h) {
        const int64_t len = std::min(cache.length(l, h), keys);
        KVLAB_RETURN_IF_ERROR(AddMass(l, h, std::span<const float>(m.data() + h * keys, len)));
      }
    }
  }
  for (int64_t l = 0; l < cache.num_layers(); ++l) {
    for (int64_t h = 0; h < cache.num_kv_heads(); ++h) {
      const int64_t len = cache.length(l, h);
      if (len <= budget) continue;
      std::span<const float> mass;
      if (l < static_cast<int64_t>(mass_.size()) && h < static_cast<int64_t>(mass_[l].size())) {
        mass = mass_[l][h];
      }
      const std::vector<int64_t> kept = DecodeKeptRows(config_, len, mass);
      KVLAB_RETURN_IF_ERROR(cache.ReadHead(l, h, &k, &v));
      const std::vector<int32_t>& pos = cache.positions(l, h);
      std::vector<int32_t> new_pos(kept.size());
      nk.resize(kept.size() * hd);
      nv.resize(kept.size() * hd);
      std::vector<float> new_mass;
      for (size_t i = 0; i < kept.size(); ++i) {
        const int64_t r = kept[i];
        new_pos[i] = pos[r];
        std::copy_n(k.data() + r * hd, hd, nk.data() + i * hd);
        std::copy_n(v.data() + r * hd, hd, nv.data() + i * hd);
        if (!mass.empty()) new_mass.push_back(r < static_cast<int64_t>(mass.size()) ? mass[r] : 0.0f);
      }
      KVLAB_RETURN_IF_ERROR(cache.SetHead(l, h, nk, nv, std::move(new_pos)));
      if (!mass.empty()) mass_[l][h] = std::move(new_mass);
      evicted_rows_ += len - static_cast<int64_t>(kept.size());
    }
  }
  return absl::OkStatus();
}

}  // namespace kvlab
