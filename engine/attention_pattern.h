// The prefill attention pattern of a method spec (DESIGN.md §3): which
// query-key pairs the context prefill computes. Query tokens appended later
// and every decode step always attend densely (SCBench semantics).
#ifndef KVLAB_ENGINE_ATTENTION_PATTERN_H_
#define KVLAB_ENGINE_ATTENTION_PATTERN_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace kvlab {

// Geometry is defined on a KV head's cache rows: the query at cache row r
// may only see rows j <= r (causal), and additionally:
//
// * kDense: every j <= r.
// * kAShape (StreamingLLM-style, SCBench "A-shape"): j < n_init or
//   r - j < n_local (the local window includes the query itself).
// * kTriShape (SCBench "Tri-shape"): A-shape, except that the last n_last
//   queries of the patterned span attend densely.
// * kVerticalSlash (MInference "vertical and slash", dynamic per query head):
//   estimated from the last min(last_q, n) queries of the span:
//   p = softmax(q_last K^T * scale) with the causal mask inside that block;
//   vertical score of column j = sum of p over those rows; slash score of
//   diagonal o (= r - j) = sum of p along it. The first kVsForcedColumns
//   columns and the kVsForcedDiagonals nearest diagonals (o = 0..99) score
//   +inf (always kept, as MInference does); then the top
//   min(kv_len, max(n_vertical, kVsMinVertical)) columns and the top
//   min(kv_len, max(n_slash, kVsMinSlash)) diagonals are kept (ties: lower
//   column / smaller offset first). Queries are grouped in tiles of
//   kVsQueryTile consecutive queries of the span (tile t = span queries
//   [64t, 64t + 64), cache rows [R0, R1)); every kept diagonal o gives the
//   tile the key range [R0 - o, R1 - o) (clipped at 0), as MInference's
//   convert_vertical_slash_indexes does (without its rounding of ranges to
//   64-key blocks). A query at row r in the tile sees j <= r with j a kept
//   column or inside one of the tile's ranges.
//   Source of the constants: microsoft/MInference
//   minference/modules/minference_forward.py, vertical_and_slash_kernel:
//   `vertical_size, slash_size = min(q_len, max(vertical_size, 30)),
//   min(q_len, max(slash_size, 50))`, `last_q = min(64, q_len)`,
//   `vertical[..., :30] = inf`, `slash[..., -100:] = inf`, and the default
//   pattern when no per-head config is given: ("vertical_and_slash", 1000,
//   6096); csrc/vertical_slash_index.cu for the per-64-row-tile ranges.
//
// The same model's sliding window (if any) still applies on top.
struct PrefillPattern {
  enum Kind { kDense, kAShape, kTriShape, kVerticalSlash };

  // MInference constants (see above).
  static constexpr int64_t kVsForcedColumns = 30;
  static constexpr int64_t kVsForcedDiagonals = 100;
  static constexpr int64_t kVsMinVertical = 30;
  static constexpr int64_t kVsMinSlash = 50;
  static constexpr int64_t kVsQueryTile = 64;

  Kind kind = kDense;
  // a_shape / tri_shape (SCBench defaults).
  int64_t n_init = 128;
  int64_t n_local = 4096;
  int64_t n_last = 100;  // tri_shape only
  // vertical_slash (MInference defaults).
  int64_t n_vertical = 1000;
  int64_t n_slash = 6096;
  int64_t last_q = 64;

  // The canonical spelling, every parameter in fixed order, e.g.
  // "dense", "a_shape{n_init=128,n_local=4096}",
  // "tri_shape{n_init=128,n_local=4096,n_last=100}",
  // "vertical_slash{n_vertical=1000,n_slash=6096,last_q=64}". Parsing it
  // gives back an equal pattern; it is part of the cache key.
  std::string Canonical() const;

  bool is_dense() const { return kind == kDense; }
  bool operator==(const PrefillPattern&) const = default;
};

// Parses "name" or "name{key=value,...}" (whitespace around tokens allowed;
// omitted keys take the defaults above). Names: dense, a_shape, tri_shape,
// vertical_slash. Values are positive integers. INVALID_ARGUMENT, with a
// sentence naming the problem, for an unknown name or key, a repeated key, a
// value that is not a positive integer, or malformed syntax. Thread-safe.
absl::StatusOr<PrefillPattern> ParsePrefillPattern(std::string_view spec);

}  // namespace kvlab

#endif  // KVLAB_ENGINE_ATTENTION_PATTERN_H_
