// Token importance scores of the observation-window policies (SnapKV,
// PyramidKV, ChunkKV), computed by the compressor from the window queries
// (DESIGN §4).
#ifndef KVLAB_KVCACHE_POLICIES_WINDOW_SCORES_H_
#define KVLAB_KVCACHE_POLICIES_WINDOW_SCORES_H_

#include <cstdint>
#include <span>
#include <vector>

#include "kvcache/kv_policy_spec.h"

namespace kvlab {

// Window attention scores of the prefix keys of one KV head.
//
// q: the post-RoPE queries of the last `w` tokens, [w, num_q_heads, head_dim];
// k: the head's post-RoPE keys [n, head_dim] (n > w). For each query head
// qh in [q_first, q_first + q_count): logits = q·k / sqrt(head_dim), query i
// (position n - w + i) sees keys j <= n - w + i; softmax per query in f32;
// summed over the w queries for the prefix keys j < n - w; then pooled 1-D
// over j with `kernel` (stride 1, padding kernel / 2: avg divides by kernel
// counting the padding, as torch avg_pool1d; max ignores the padding). The
// result is the mean over the q_count query heads: [n - w] scores.
// Single-threaded; thread-safe.
std::vector<float> WindowScores(std::span<const float> q, int64_t w, int64_t num_q_heads, int64_t q_first,
                                int64_t q_count, std::span<const float> k, int64_t n, int64_t head_dim,
                                int64_t kernel, PoolKind pool);

// 1-D pooling as described above (exposed for tests).
std::vector<float> Pool1d(std::span<const float> x, int64_t kernel, PoolKind pool);

}  // namespace kvlab

#endif  // KVLAB_KVCACHE_POLICIES_WINDOW_SCORES_H_
