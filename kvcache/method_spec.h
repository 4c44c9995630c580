// The method spec (DESIGN §3): prefill pattern, KV policy, decode policy and
// prompt policy. Its canonical string is part of every cache key.
#ifndef KVLAB_KVCACHE_METHOD_SPEC_H_
#define KVLAB_KVCACHE_METHOD_SPEC_H_

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace kvlab {

// One term of a spec: `name` or `name{key=value,...}`.
struct SpecTerm {
  std::string name;
  std::map<std::string, std::string> params;

  // `name` alone, or `name{k=v,...}` with keys in sorted order.
  std::string Canonical() const;
};

// Parses `name{k=v,k2=v2}`. INVALID_ARGUMENT with a sentence on malformed
// syntax (unbalanced braces, empty keys or values, duplicate keys).
absl::StatusOr<SpecTerm> ParseSpecTerm(std::string_view text);

struct MethodSpec {
  std::string prefill = "dense";  // canonical prefill pattern
  std::string kv = "full";        // canonical KV policy (eviction, then '+' quantizer)
  std::string decode = "none";    // canonical decode-time policy
  std::string prompt = "none";    // canonical prompt policy

  // "prefill=...;kv=...;decode=...;prompt=..." with every part canonical.
  std::string Canonical() const;
  // The codec of the entries this spec produces (derived from `kv`).
  std::string codec = "bf16";  // kDefaultEntryCodec
};

// Parses "prefill=...;kv=...;decode=...;prompt=..." (any subset, any order;
// missing parts take the defaults; empty string = all defaults).
// INVALID_ARGUMENT naming the part and the problem for unknown parts,
// unknown patterns/policies, and malformed or out-of-range parameters.
absl::StatusOr<MethodSpec> ParseMethodSpec(std::string_view text);

}  // namespace kvlab

#endif  // KVLAB_KVCACHE_METHOD_SPEC_H_
