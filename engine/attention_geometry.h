// Which query-key pairs one attention call computes, as work lists that every
// backend walks: the single definition of the prefill patterns' geometry
// (PrefillPattern) on cache rows. The CPU and CUDA backends both build their
// tiles here, so they compute the same pairs and count the same stats.
#ifndef KVLAB_ENGINE_ATTENTION_GEOMETRY_H_
#define KVLAB_ENGINE_ATTENTION_GEOMETRY_H_

#include <algorithm>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "engine/backend.h"

namespace kvlab {

// Queries per tile (also vertical_slash's per-tile range granularity).
inline constexpr int64_t kAttentionTile = PrefillPattern::kVsQueryTile;
// Lower bound of a query that has none (see TileGeometry::lo).
inline constexpr int64_t kNoKeyBound = std::numeric_limits<int64_t>::min();

// Queries [q_begin, q_end) of query heads [head0, head0 + heads), all of KV
// head kv_head; packed row (i, j) -> (i - q_begin) * heads + j.
struct AttentionTile {
  int64_t kv_head, head0, heads, q_begin, q_end;
};

// Keys [begin, end): cache rows when `gathered` is false, else positions in
// the tile's ascending list `keys` of cache rows (kept columns and short
// diagonal ranges, gathered so that they still fill whole key blocks).
struct KeySegment {
  int64_t begin = 0, end = 0;
  bool row_lo = false;  // also apply the per-query lower bound lo[] (A-shape window)
  bool gathered = false;
};

// The pairs of one tile: query i of the tile (cache row row[i]) sees key j of
// a segment when wlo[i] <= j <= row[i] and, in a row_lo segment, j >= lo[i].
struct TileGeometry {
  std::vector<int64_t> row, lo, wlo;  // per query of the tile
  std::vector<int64_t> keys;          // gathered cache rows, ascending
  std::vector<KeySegment> segs;
  std::vector<std::pair<int64_t, int64_t>> ranges;  // scratch

  // Lowest key row query i may see in `seg` (before the causal edge).
  int64_t LowKey(const KeySegment& seg, int64_t i) const {
    return seg.row_lo ? std::max(lo[i], wlo[i]) : wlo[i];
  }
};

// The pairs one query head of a vertical_slash pattern keeps (see
// PrefillPattern): kept key columns and kept diagonals (offsets r - j), both
// ascending and duplicate-free.
struct VerticalSlashChoice {
  std::vector<int64_t> columns;
  std::vector<int64_t> offsets;
};

// Turns one query head's estimate scores (vertical[j]: mass of column j;
// slash[o]: mass of diagonal o; both of length kv_len, consumed) into its
// choice: forced columns/diagonals, then the top n_vertical / n_slash (with
// MInference's minimums), ties to the lower index. Thread-safe.
VerticalSlashChoice ChooseVerticalSlash(const PrefillPattern& pattern, std::vector<double>& vertical,
                                        std::vector<double>& slash);

// The tiles of a patterned (or mass-observing) call, latest query tiles
// first: per (KV head, tile) for a GQA group, or per (query head, tile) for
// vertical_slash.
std::vector<AttentionTile> SparseAttentionTiles(const AttentionArgs& args);

// Fills `g` with tile t's query bounds and key segments under args.pattern
// (any kind; null is dense). `vs` is the choice of query head t.head0 for
// vertical_slash (else ignored). Reads only shapes, kv_len and the pattern.
void BuildTileGeometry(const AttentionArgs& args, const VerticalSlashChoice* vs, const AttentionTile& t,
                       TileGeometry& g);

// Pairs tile t computes (summed over its heads) and the dense count.
AttentionStats CountTilePairs(const AttentionTile& t, const TileGeometry& g);

// The pair counts of dense attention over args (computed == causal).
AttentionStats DenseAttentionStats(const AttentionArgs& args);

}  // namespace kvlab

#endif  // KVLAB_ENGINE_ATTENTION_GEOMETRY_H_
