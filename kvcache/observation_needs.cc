#include "kvcache/observation_needs.h"

#include "kvcache/kv_policy_spec.h"

namespace kvlab {

ObservationNeeds NeedsFor(const MethodSpec& spec) {
  ObservationNeeds needs;
  auto policy = ParseKvPolicy(spec.kv);
  if (!policy.ok()) return needs;
  switch (policy->eviction.kind) {
    case EvictionKind::kSnapKv:
    case EvictionKind::kPyramidKv:
    case EvictionKind::kChunkKv:
      needs.window = policy->eviction.window;
      break;
    case EvictionKind::kH2O:
      needs.attention_mass = true;
      break;
    default:
      break;
  }
  return needs;
}

}  // namespace kvlab
