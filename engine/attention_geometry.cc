#include "engine/attention_geometry.h"

#include <algorithm>
#include <limits>
#include <numeric>

#include "common/check.h"

namespace kvlab {
namespace {

constexpr int64_t kMinContiguous = 192;  // shorter key ranges are gathered

// A-shape / tri-shape: the init columns and the local band.
void ShapeSegments(const AttentionArgs& a, const AttentionTile& t, TileGeometry& g) {
  const PrefillPattern& p = *a.pattern;
  const int64_t nq = t.q_end - t.q_begin, last = g.row.back();
  // Queries of the span from this one on: dense when within the last n_last.
  const int64_t span_end = a.q.dim(0) + a.pattern_rows_after;
  int64_t local_begin = std::numeric_limits<int64_t>::max();
  for (int64_t i = 0; i < nq; ++i) {
    const bool dense = p.kind == PrefillPattern::kTriShape && t.q_begin + i >= span_end - p.n_last;
    g.lo[i] = dense ? 0 : g.row[i] - p.n_local + 1;
    local_begin = std::min(local_begin, std::max(g.lo[i], g.wlo[i]));
  }
  const int64_t init_end = std::min(p.n_init, last + 1);
  if (g.wlo.front() < init_end) g.segs.push_back({g.wlo.front(), init_end, false, false});
  local_begin = std::max(local_begin, p.n_init);
  if (local_begin <= last) g.segs.push_back({local_begin, last + 1, true, false});
}

// vertical_slash: the tile's diagonal ranges and its kept columns.
void VerticalSlashSegments(const VerticalSlashChoice& ch, TileGeometry& g) {
  const int64_t r0 = g.row.front(), r1 = g.row.back() + 1;
  g.ranges.clear();
  for (int64_t o : ch.offsets) {  // ascending offsets: descending ranges
    if (r1 - o <= 0) break;
    g.ranges.emplace_back(std::max<int64_t>(0, r0 - o), r1 - o);
  }
  std::reverse(g.ranges.begin(), g.ranges.end());
  size_t merged = 0;
  for (size_t i = 0; i < g.ranges.size(); ++i) {
    if (merged > 0 && g.ranges[i].first <= g.ranges[merged - 1].second) {
      g.ranges[merged - 1].second = std::max(g.ranges[merged - 1].second, g.ranges[i].second);
    } else {
      g.ranges[merged++] = g.ranges[i];
    }
  }
  g.ranges.resize(merged);
  g.keys.clear();
  size_t ri = 0;
  for (int64_t col : ch.columns) {
    if (col >= r1) break;
    while (ri < g.ranges.size() && g.ranges[ri].second <= col) ++ri;
    if (ri < g.ranges.size() && g.ranges[ri].first <= col) continue;  // inside a range
    g.keys.push_back(col);
  }
  // Long ranges are multiplied in place; short ones join the gathered
  // columns so that scattered diagonals still make full-width blocks.
  bool gathered_ranges = false;
  for (const auto& [lo, hi] : g.ranges) {
    if (hi - lo >= kMinContiguous) {
      g.segs.push_back({lo, hi, false, false});
    } else {
      for (int64_t j = lo; j < hi; ++j) g.keys.push_back(j);
      gathered_ranges = true;
    }
  }
  if (gathered_ranges) std::sort(g.keys.begin(), g.keys.end());
  if (!g.keys.empty()) g.segs.push_back({0, static_cast<int64_t>(g.keys.size()), false, true});
}

// The k highest-scoring indices (ties: lower index first), ascending.
std::vector<int64_t> TopK(const std::vector<double>& score, int64_t k) {
  std::vector<int64_t> idx(score.size());
  std::iota(idx.begin(), idx.end(), 0);
  auto better = [&](int64_t x, int64_t y) { return score[x] > score[y] || (score[x] == score[y] && x < y); };
  k = std::min<int64_t>(k, static_cast<int64_t>(idx.size()));
  std::nth_element(idx.begin(), idx.begin() + k, idx.end(), better);
  idx.resize(k);
  std::sort(idx.begin(), idx.end());
  return idx;
}

}  // namespace

VerticalSlashChoice ChooseVerticalSlash(const PrefillPattern& p, std::vector<double>& vertical,
                                        std::vector<double>& slash) {
  const double inf = std::numeric_limits<double>::infinity();
  const int64_t len = static_cast<int64_t>(vertical.size());
  for (int64_t j = 0; j < std::min(len, PrefillPattern::kVsForcedColumns); ++j) vertical[j] = inf;
  for (int64_t o = 0; o < std::min<int64_t>(slash.size(), PrefillPattern::kVsForcedDiagonals); ++o) slash[o] = inf;
  VerticalSlashChoice out;
  out.columns = TopK(vertical, std::max(p.n_vertical, PrefillPattern::kVsMinVertical));
  out.offsets = TopK(slash, std::max(p.n_slash, PrefillPattern::kVsMinSlash));
  return out;
}

std::vector<AttentionTile> SparseAttentionTiles(const AttentionArgs& a) {
  const int64_t n = a.q.dim(0), hq = a.q.dim(1), hkv = a.k.dim(0), group = hq / hkv;
  const bool per_query_head = a.pattern != nullptr && a.pattern->kind == PrefillPattern::kVerticalSlash;
  std::vector<AttentionTile> tiles;
  // Later tiles see more keys: they come first, for better balance.
  for (int64_t q0 = ((n - 1) / kAttentionTile) * kAttentionTile; q0 >= 0; q0 -= kAttentionTile) {
    const int64_t q1 = std::min(n, q0 + kAttentionTile);
    if (per_query_head) {
      for (int64_t h = 0; h < hq; ++h) tiles.push_back({h / group, h, 1, q0, q1});
    } else {
      for (int64_t h = 0; h < hkv; ++h) tiles.push_back({h, h * group, group, q0, q1});
    }
  }
  return tiles;
}

void BuildTileGeometry(const AttentionArgs& a, const VerticalSlashChoice* vs, const AttentionTile& t,
                       TileGeometry& g) {
  const PrefillPattern::Kind kind = a.pattern ? a.pattern->kind : PrefillPattern::kDense;
  const int64_t base = a.kv_len[t.kv_head] - a.q.dim(0);  // cache row of query 0
  const int64_t nq = t.q_end - t.q_begin;
  g.row.resize(nq);
  g.lo.resize(nq);
  g.wlo.resize(nq);
  for (int64_t i = 0; i < nq; ++i) {
    const int64_t r = base + t.q_begin + i;
    g.row[i] = r;
    g.wlo[i] = a.sliding_window > 0 ? std::max<int64_t>(0, r - a.sliding_window + 1) : 0;
    g.lo[i] = kNoKeyBound;
  }
  g.segs.clear();
  g.keys.clear();
  if (kind == PrefillPattern::kAShape || kind == PrefillPattern::kTriShape) {
    ShapeSegments(a, t, g);
  } else if (kind == PrefillPattern::kVerticalSlash) {
    CHECK(vs != nullptr) << "attention: vertical_slash tile without a choice";
    VerticalSlashSegments(*vs, g);
  } else {
    g.segs.push_back({g.wlo.front(), g.row.back() + 1, false, false});
  }
}

AttentionStats CountTilePairs(const AttentionTile& t, const TileGeometry& g) {
  AttentionStats st;
  const int64_t nq = t.q_end - t.q_begin;
  for (int64_t i = 0; i < nq; ++i) {
    const int64_t r = g.row[i];
    st.causal_pairs += r - g.wlo[i] + 1;
    for (const KeySegment& seg : g.segs) {
      const int64_t lo = g.LowKey(seg, i);
      if (!seg.gathered) {
        st.computed_pairs += std::max<int64_t>(0, std::min(r + 1, seg.end) - std::max(lo, seg.begin));
      } else {
        const int64_t* b = g.keys.data() + seg.begin;
        const int64_t* e = g.keys.data() + seg.end;
        st.computed_pairs += std::max<int64_t>(0, std::upper_bound(b, e, r) - std::lower_bound(b, e, lo));
      }
    }
  }
  st.causal_pairs *= t.heads;
  st.computed_pairs *= t.heads;
  return st;
}

AttentionStats DenseAttentionStats(const AttentionArgs& a) {
  const int64_t n = a.q.dim(0), hkv = a.k.dim(0), group = a.q.dim(1) / hkv;
  AttentionStats st;
  for (int64_t h = 0; h < hkv; ++h) {
    const int64_t base = a.kv_len[h] - n;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t r = base + i;
      st.causal_pairs += group * (r + 1 - (a.sliding_window > 0 ? std::max<int64_t>(0, r - a.sliding_window + 1) : 0));
    }
  }
  st.computed_pairs = st.causal_pairs;
  return st;
}

}  // namespace kvlab
