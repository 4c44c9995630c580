// Validation and canonical form of the KV-policy axis of a method spec
// (eviction policy, optionally followed by '+' and a quantizer).
#ifndef KVLAB_KVCACHE_KV_POLICY_SPEC_H_
#define KVLAB_KVCACHE_KV_POLICY_SPEC_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace kvlab {

// Returns the canonical spelling of the KV policy `text` and sets `codec` to
// the codec its entries use. INVALID_ARGUMENT with a sentence for unknown
// policies and malformed or out-of-range parameters.
absl::StatusOr<std::string> CanonicalKvPolicy(std::string_view text, std::string* codec);

}  // namespace kvlab

#endif  // KVLAB_KVCACHE_KV_POLICY_SPEC_H_
