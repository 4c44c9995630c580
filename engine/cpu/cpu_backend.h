// Internal: the CPU backend's pieces shared between its source files.
#ifndef KVLAB_ENGINE_CPU_CPU_BACKEND_H_
#define KVLAB_ENGINE_CPU_CPU_BACKEND_H_

#include "engine/backend.h"

namespace kvlab::cpu {

// Causal block-wise attention (see Backend::Attention). Parallel over
// (KV head, query block) tasks; each task runs single-threaded BLAS. Sparse
// patterns and attention mass go to SparseAttention (sparse_attention.h).
void Attention(const AttentionArgs& args);

}  // namespace kvlab::cpu

#endif  // KVLAB_ENGINE_CPU_CPU_BACKEND_H_
