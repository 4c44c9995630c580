// What a method's KV policy needs prefill to observe (DESIGN §4), so the
// prefill computes exactly that.
#ifndef KVLAB_KVCACHE_OBSERVATION_NEEDS_H_
#define KVLAB_KVCACHE_OBSERVATION_NEEDS_H_

#include <cstdint>

#include "kvcache/method_spec.h"

namespace kvlab {

struct ObservationNeeds {
  // Number of trailing context tokens whose post-RoPE queries (all query
  // heads, every layer) are needed: snapkv/pyramidkv/chunkkv's `window`;
  // 0 when none. Prefill sends min(window, n) rows.
  int64_t window = 0;
  // Whether the accumulated attention mass each key received from all
  // queries (per query head, every layer) is needed: h2o.
  bool attention_mass = false;
};

// The observation needs of `spec`'s KV policy (the decode policy needs
// none from prefill). `spec` must come from ParseMethodSpec; a KV policy
// that fails to parse needs nothing.
ObservationNeeds NeedsFor(const MethodSpec& spec);

}  // namespace kvlab

#endif  // KVLAB_KVCACHE_OBSERVATION_NEEDS_H_
