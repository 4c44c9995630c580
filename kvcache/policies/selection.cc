#include "kvcache/policies/selection.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace kvlab {

std::vector<int32_t> TopK(std::span<const float> scores, int64_t k) {
  std::vector<int32_t> idx(scores.size());
  std::iota(idx.begin(), idx.end(), 0);
  k = std::min<int64_t>(k, static_cast<int64_t>(idx.size()));
  auto better = [&](int32_t a, int32_t b) { return scores[a] > scores[b] || (scores[a] == scores[b] && a < b); };
  std::nth_element(idx.begin(), idx.begin() + k, idx.end(), better);
  idx.resize(k);
  std::sort(idx.begin(), idx.end());
  return idx;
}

std::vector<int32_t> StreamingKept(int64_t n, int64_t n_sink, int64_t n_recent) {
  std::vector<int32_t> kept;
  for (int64_t i = 0; i < n; ++i) {
    if (n <= n_sink + n_recent || i < n_sink || i >= n - n_recent) kept.push_back(static_cast<int32_t>(i));
  }
  return kept;
}

std::vector<int32_t> TopKPlusTail(std::span<const float> prefix_scores, int64_t k, int64_t n) {
  std::vector<int32_t> kept = TopK(prefix_scores, k);
  for (int64_t i = static_cast<int64_t>(prefix_scores.size()); i < n; ++i) kept.push_back(static_cast<int32_t>(i));
  return kept;
}

std::vector<int64_t> PyramidBudgets(int64_t num_layers, int64_t n, int64_t capacity, int64_t window, int64_t beta) {
  const int64_t target = capacity - window;
  if (n < capacity) return std::vector<int64_t>(num_layers, n - window);
  if (n < 2 * target || num_layers == 1) return std::vector<int64_t>(num_layers, target);
  int64_t min_num = target / beta;
  int64_t max_num = 2 * target - min_num;
  if (max_num >= n - window) {
    max_num = n - window;
    min_num = 2 * target - max_num;
  }
  std::vector<int64_t> budgets(num_layers);
  const double span = static_cast<double>(max_num - min_num);
  for (int64_t l = 0; l < num_layers; ++l) {
    budgets[l] = max_num - static_cast<int64_t>(std::llround(static_cast<double>(l) * span /
                                                             static_cast<double>(num_layers - 1)));
  }
  return budgets;
}

std::vector<int32_t> ChunkKept(std::span<const float> prefix_scores, int64_t budget, int64_t chunk, int64_t n) {
  const int64_t p = static_cast<int64_t>(prefix_scores.size());
  const int64_t chunks = (p + chunk - 1) / chunk;
  std::vector<float> score(chunks, 0.0f);
  for (int64_t c = 0; c < chunks; ++c) {
    for (int64_t j = c * chunk; j < std::min(p, (c + 1) * chunk); ++j) score[c] += prefix_scores[j];
  }
  std::vector<int32_t> order(chunks);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return score[a] > score[b]; });
  std::vector<int32_t> kept;
  int64_t left = budget;
  for (int32_t c : order) {
    if (left <= 0) break;
    const int64_t begin = c * chunk, len = std::min(chunk, p - begin), take = std::min(len, left);
    for (int64_t j = begin; j < begin + take; ++j) kept.push_back(static_cast<int32_t>(j));
    left -= take;
  }
  std::sort(kept.begin(), kept.end());
  for (int64_t i = p; i < n; ++i) kept.push_back(static_cast<int32_t>(i));
  return kept;
}

double Jaccard(std::span<const int32_t> a, std::span<const int32_t> b) {
  if (a.empty() && b.empty()) return 1.0;
  size_t i = 0, j = 0, both = 0;
  while (i < a.size() && j < b.size()) {
    if (a[i] == b[j]) {
      ++both, ++i, ++j;
    } else if (a[i] < b[j]) {
      ++i;
    } else {
      ++j;
    }
  }
  return static_cast<double>(both) / static_cast<double>(a.size() + b.size() - both);
}

}  // namespace kvlab
