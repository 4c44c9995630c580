// A token budget of a KV policy: an absolute number of tokens or a ratio of
// the context (DESIGN §3).
#ifndef KVLAB_KVCACHE_BUDGET_H_
#define KVLAB_KVCACHE_BUDGET_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace kvlab {

// Spelling: an integer ("256") is a token count; a number with a decimal
// point or exponent ("0.125", "1.0", "5e-2") is a ratio of the context length
// and must lie in (0, 1]. So "1" keeps one token and "1.0" keeps everything.
struct Budget {
  bool is_ratio = false;
  int64_t tokens = 0;  // when !is_ratio
  double ratio = 0;    // when is_ratio

  // Tokens this budget keeps of a context of `n` tokens:
  // floor(ratio * n) for ratios (as SCBench's int(ratio * n)), else tokens.
  int64_t Resolve(int64_t n) const;
  // Canonical spelling: the integer, or the shortest decimal that round-trips
  // the ratio and contains a '.' ("0.125", "1.0").
  std::string Canonical() const;
};

// Parses a budget value (see Budget). INVALID_ARGUMENT for anything else,
// negative counts, or ratios outside (0, 1].
absl::StatusOr<Budget> ParseBudget(std::string_view text);

// Parses a non-negative integer parameter. INVALID_ARGUMENT otherwise.
absl::StatusOr<int64_t> ParseCount(std::string_view text);

}  // namespace kvlab

#endif  // KVLAB_KVCACHE_BUDGET_H_
