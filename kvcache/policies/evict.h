// Applies an eviction policy to a full KV entry: which rows each (layer, KV
// head) keeps, and the compressed entry holding only those rows.
#ifndef KVLAB_KVCACHE_POLICIES_EVICT_H_
#define KVLAB_KVCACHE_POLICIES_EVICT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kvcache/codec.h"
#include "kvcache/kv_entry.h"
#include "kvcache/kv_policy_spec.h"
#include "kvlab/v1/common.pb.h"

namespace kvlab {

struct KeptRows {
  // Ascending row indices kept by each (layer, head), layer-major
  // ([l * num_kv_heads + h]).
  std::vector<std::vector<int32_t>> rows;
  // Policy statistics (JSON object): kept/total rows, per-layer budgets,
  // adjacent-layer Jaccard similarity of the kept sets (per layer pair, mean
  // over heads; ChunkKV paper Table 3) and its mean.
  std::string stats_json;
};

// Chooses the rows `policy` keeps of `entry`, which must be a full entry
// (every head holds all n = header.tokens_size() rows, positions 0..n-1).
// `observations` must provide what NeedsFor (kvcache/observation_needs.h)
// asks for whenever the policy actually evicts: per layer, the window
// queries of exactly min(window, n) tokens, [rows, num_q_heads, head_dim]
// f32 (num_q_heads is inferred and must be a multiple of num_kv_heads), and
// for H2O the attention mass [num_q_heads, n] f32 in pieces. Ratio budgets
// resolve against n. Errors: INVALID_ARGUMENT for budgets that do not fit
// (capacity <= window after resolving a ratio), a non-full entry, missing or
// malformed observations; DATA_LOSS for undecodable layers.
// Heads are processed in parallel (common/parallel.h).
absl::StatusOr<KeptRows> SelectKeptRows(const KvEntry& entry, const std::vector<v1::LayerObservation>& observations,
                                        const EvictionPolicy& policy);

// A new sealed entry with only the kept rows of every head (positions
// carried over), encoded with `codec`; header fields other than codec, kept
// counts, checksums and stats_json are copied from `entry`.
absl::StatusOr<KvEntry> BuildKeptEntry(const KvEntry& entry, const KeptRows& kept, const Codec& codec);

}  // namespace kvlab

#endif  // KVLAB_KVCACHE_POLICIES_EVICT_H_
