// Internal: the CPU backend's block-sparse prefill attention (A-shape,
// Tri-shape, MInference vertical-slash) and the attention-mass observation.
#ifndef KVLAB_ENGINE_CPU_SPARSE_ATTENTION_H_
#define KVLAB_ENGINE_CPU_SPARSE_ATTENTION_H_

#include <cstdint>
#include <vector>

#include "engine/attention_geometry.h"
#include "engine/backend.h"

namespace kvlab::cpu {

// Runs the estimation step of a vertical_slash pattern: one choice per query
// head of `args` (args.pattern must be vertical_slash, args.q/k on the CPU).
// Parallel over query heads; call from one thread at a time.
std::vector<VerticalSlashChoice> EstimateVerticalSlash(const AttentionArgs& args);

// Attention with args.pattern (any kind) and/or args.attention_mass, over
// tasks of (KV head or query head, 64-query tile); work is proportional to
// the kept pairs, rounded up to whole keys of each tile's kept ranges.
// Fills args.stats when set. Shapes are checked by the caller.
void SparseAttention(const AttentionArgs& args);

}  // namespace kvlab::cpu

#endif  // KVLAB_ENGINE_CPU_SPARSE_ATTENTION_H_
