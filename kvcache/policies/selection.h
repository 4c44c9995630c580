// The kept-index rules of the eviction policies, on plain score arrays. Every
// function returns ascending indices into a context of n tokens; ties in
// scores keep the lower index (as a stable descending argsort).
#ifndef KVLAB_KVCACHE_POLICIES_SELECTION_H_
#define KVLAB_KVCACHE_POLICIES_SELECTION_H_

#include <cstdint>
#include <span>
#include <vector>

namespace kvlab {

// Indices of the k largest scores, ascending (k <= scores.size()).
std::vector<int32_t> TopK(std::span<const float> scores, int64_t k);

// StreamingLLM: [0, n_sink) and [n - n_recent, n); everything when
// n <= n_sink + n_recent.
std::vector<int32_t> StreamingKept(int64_t n, int64_t n_sink, int64_t n_recent);

// The top `k` of `prefix_scores` (the scores of tokens [0, P)) plus the
// trailing tokens [P, n). Used by H2O (P = n - recent, scores = attention
// mass) and SnapKV/PyramidKV (P = n - window, scores = window scores).
std::vector<int32_t> TopKPlusTail(std::span<const float> prefix_scores, int64_t k, int64_t n);

// PyramidKV per-layer budgets of prefix tokens (window excluded), for a
// context of n tokens and a target `capacity` (window included). Following
// PyramidKV's PyramidKVCluster.update_kv (github.com/Zefan-Cai/PyramidKV,
// pyramidkv/pyramidkv_utils.py; also KVCache-Factory):
//   T = capacity - window; min_num = T // beta; max_num = 2T - min_num;
//   if max_num >= n - window: max_num = n - window, min_num = 2T - max_num;
//   layer l keeps max_num - l * steps, steps = (max_num - min_num) // (L - 1);
//   n < capacity: identity (n - window for every layer);
//   n < 2T: uniform T for every layer.
// Deviation (documented in DESIGN): upstream floors `steps`, which makes the
// mean budget exceed T by up to (L - 2) / 2 tokens; here layer l keeps
// max_num - round(l * (max_num - min_num) / (L - 1)), the same straight line
// without the floor, so the mean is T within 1 token.
std::vector<int64_t> PyramidBudgets(int64_t num_layers, int64_t n, int64_t capacity, int64_t window, int64_t beta);

// ChunkKV over the prefix [0, P) (P = prefix_scores.size()): chunks
// [0, c), [c, 2c), ... (the last may be shorter) scored by the sum of their
// token scores; chunks are taken in descending score until `budget` tokens
// are reached, the last one taken is trimmed to its first tokens to fit
// exactly, then the window [P, n) is appended. budget <= P.
std::vector<int32_t> ChunkKept(std::span<const float> prefix_scores, int64_t budget, int64_t chunk, int64_t n);

// |a ∩ b| / |a ∪ b| of two ascending index sets (1 when both are empty).
double Jaccard(std::span<const int32_t> a, std::span<const int32_t> b);

}  // namespace kvlab

#endif  // KVLAB_KVCACHE_POLICIES_SELECTION_H_
