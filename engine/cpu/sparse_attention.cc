// Block-sparse prefill attention on the CPU. Every task (a 64-query tile of
// one KV head's GQA group, or of one query head for vertical_slash) turns its
// pattern into a short list of disjoint key segments: contiguous key ranges
// (multiplied straight from the cache) and, for vertical_slash, one gathered
// segment of kept columns and short diagonal ranges (copied together first,
// so scattered diagonals still give full-width GEMMs). Each segment is walked in
// key blocks with the same BLAS online-softmax step as the dense kernel; the
// per-row part of the mask (causal edge, A-shape local window, sliding
// window) is an interval of each block, applied by filling -inf. The optional
// attention mass is a second pass over the same blocks once the row maxima
// and sums are final.
#include "engine/cpu/sparse_attention.h"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <mutex>
#include <numeric>
#include <utility>
#include <vector>

#include "common/check.h"
#include "common/parallel.h"
#include "engine/cpu/small_gemm.h"
#include "engine/cpu/vec_math.h"

namespace kvlab::cpu {
namespace {

constexpr int64_t kKeyBlock = 256;                      // keys per inner step
constexpr int64_t kSmallRows = 16;                      // up to this many packed rows, skip BLAS

struct Scratch {
  std::vector<float> q, s, m, l, acc, kg, vg, colsum;
  std::vector<int64_t> clo, chi;  // per query of the tile
  TileGeometry g;
};

struct Context {
  const AttentionArgs& a;
  int64_t n, hq, hd, hkv, group, cap;
  const std::vector<VerticalSlashChoice>* vs = nullptr;
  float* mass = nullptr;
  int64_t mass_cols = 0;
  std::mutex* mass_mu = nullptr;
};

void PackQueries(const Context& c, const AttentionTile& t, Scratch& sc) {
  const int64_t rows_per_q = t.heads * c.hd;
  sc.q.resize((t.q_end - t.q_begin) * rows_per_q);
  const float* qsrc = c.a.q.data<float>();
  for (int64_t i = t.q_begin; i < t.q_end; ++i) {
    const float* src = qsrc + (i * c.hq + t.head0) * c.hd;
    std::copy(src, src + rows_per_q, sc.q.data() + (i - t.q_begin) * rows_per_q);
  }
}

// Scores of the packed queries against keys [k0, k0 + kb) of `seg` into
// sc.s [rows, kb], -inf where masked; sc.clo/chi get each query's visible
// column interval. Returns the V rows of the block ([kb, hd], contiguous).
const float* ScoreBlock(const Context& c, const AttentionTile& t, const KeySegment& seg, int64_t k0, int64_t kb,
                        bool need_v, Scratch& sc) {
  const int64_t nq = t.q_end - t.q_begin, rows = nq * t.heads, hd = c.hd;
  const float* kh = c.a.k.data<float>() + t.kv_head * c.cap * hd;
  const float* vh = c.a.v.data<float>() + t.kv_head * c.cap * hd;
  const float* kblock;
  const float* vblock = nullptr;
  const int64_t* keys = seg.gathered ? sc.g.keys.data() : nullptr;
  if (keys == nullptr) {
    kblock = kh + k0 * hd;
    vblock = vh + k0 * hd;
  } else {
    sc.kg.resize(kb * hd);
    for (int64_t j = 0; j < kb; ++j) std::copy_n(kh + keys[k0 + j] * hd, hd, sc.kg.data() + j * hd);
    kblock = sc.kg.data();
    if (need_v) {
      sc.vg.resize(kb * hd);
      for (int64_t j = 0; j < kb; ++j) std::copy_n(vh + keys[k0 + j] * hd, hd, sc.vg.data() + j * hd);
      vblock = sc.vg.data();
    }
  }
  sc.s.resize(rows * kb);
  float* s = sc.s.data();
  if (rows <= kSmallRows) {
    SmallQK(sc.q.data(), rows, kblock, kb, hd, c.a.scale, s);
  } else {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, kb, hd, c.a.scale, sc.q.data(), hd, kblock, hd,
                0.0f, s, kb);
  }
  sc.clo.resize(nq);
  sc.chi.resize(nq);
  for (int64_t i = 0; i < nq; ++i) {
    const int64_t lo = sc.g.LowKey(seg, i), r = sc.g.row[i];
    int64_t clo, chi;  // visible columns [clo, chi)
    if (keys == nullptr) {
      clo = std::clamp<int64_t>(lo - k0, 0, kb);
      chi = std::clamp<int64_t>(r + 1 - k0, 0, kb);
    } else {
      const int64_t* b = keys + k0;
      clo = std::lower_bound(b, b + kb, lo) - b;
      chi = std::upper_bound(b, b + kb, r) - b;
    }
    if (chi < clo) chi = clo;
    sc.clo[i] = clo;
    sc.chi[i] = chi;
    if (clo == 0 && chi == kb) continue;
    for (int64_t j = 0; j < t.heads; ++j) {
      float* sr = s + (i * t.heads + j) * kb;
      std::fill(sr, sr + clo, kNegInf);
      std::fill(sr + chi, sr + kb, kNegInf);
    }
  }
  return vblock;
}

// Pass 1: online softmax over every segment into sc.m, sc.l, sc.acc.
void Accumulate(const Context& c, const AttentionTile& t, Scratch& sc) {
  const int64_t nq = t.q_end - t.q_begin, rows = nq * t.heads, hd = c.hd;
  for (const KeySegment& seg : sc.g.segs) {
    for (int64_t k0 = seg.begin; k0 < seg.end; k0 += kKeyBlock) {
      const int64_t kb = std::min(kKeyBlock, seg.end - k0);
      const float* vblock = ScoreBlock(c, t, seg, k0, kb, /*need_v=*/true, sc);
      float* s = sc.s.data();
      for (int64_t r = 0; r < rows; ++r) {
        float* sr = s + r * kb;
        const int64_t i = r / t.heads;
        const int64_t clo = sc.clo[i], chi = sc.chi[i];
        if (clo == chi) {  // nothing visible in this block for this row
          std::fill(sr, sr + kb, 0.0f);
          continue;
        }
        float mx = kNegInf;
        for (int64_t j = clo; j < chi; ++j) mx = std::max(mx, sr[j]);
        const float m_new = std::max(sc.m[r], mx);
        const float alpha = sc.m[r] == kNegInf ? 0.0f : FastExp(sc.m[r] - m_new);
        float sum = 0.0f;
        std::fill(sr, sr + clo, 0.0f);
        std::fill(sr + chi, sr + kb, 0.0f);
        for (int64_t j = clo; j < chi; ++j) {
          const float p = FastExp(sr[j] - m_new);
          sr[j] = p;
          sum += p;
        }
        sc.l[r] = sc.l[r] * alpha + sum;
        sc.m[r] = m_new;
        if (alpha != 1.0f) {
          float* ar = sc.acc.data() + r * hd;
          for (int64_t d = 0; d < hd; ++d) ar[d] *= alpha;
        }
      }
      if (rows <= kSmallRows) {
        SmallPV(s, rows, vblock, kb, hd, sc.acc.data());
      } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, hd, kb, 1.0f, s, kb, vblock, hd, 1.0f,
                    sc.acc.data(), hd);
      }
    }
  }
}

// Pass 2: adds the final probabilities of every computed pair to the mass.
void AccumulateMass(const Context& c, const AttentionTile& t, Scratch& sc) {
  const int64_t nq = t.q_end - t.q_begin;
  for (const KeySegment& seg : sc.g.segs) {
    for (int64_t k0 = seg.begin; k0 < seg.end; k0 += kKeyBlock) {
      const int64_t kb = std::min(kKeyBlock, seg.end - k0);
      ScoreBlock(c, t, seg, k0, kb, /*need_v=*/false, sc);
      sc.colsum.assign(t.heads * kb, 0.0f);
      for (int64_t i = 0; i < nq; ++i) {
        const int64_t clo = sc.clo[i], chi = sc.chi[i];
        for (int64_t j = 0; j < t.heads; ++j) {
          const int64_t r = i * t.heads + j;
          if (sc.l[r] <= 0) continue;
          const float* sr = sc.s.data() + r * kb;
          float* cs = sc.colsum.data() + j * kb;
          const float m = sc.m[r], inv = 1.0f / sc.l[r];
          for (int64_t x = clo; x < chi; ++x) cs[x] += FastExp(sr[x] - m) * inv;
        }
      }
      std::lock_guard<std::mutex> lock(*c.mass_mu);
      for (int64_t j = 0; j < t.heads; ++j) {
        float* dst = c.mass + (t.head0 + j) * c.mass_cols;
        const float* cs = sc.colsum.data() + j * kb;
        for (int64_t x = 0; x < kb; ++x) {
          const int64_t key = seg.gathered ? sc.g.keys[k0 + x] : k0 + x;
          if (key < c.mass_cols) dst[key] += cs[x];
        }
      }
    }
  }
}

void Finish(const Context& c, const AttentionTile& t, const Scratch& sc) {
  float* out = c.a.out.data<float>();
  for (int64_t i = t.q_begin; i < t.q_end; ++i) {
    for (int64_t j = 0; j < t.heads; ++j) {
      const int64_t r = (i - t.q_begin) * t.heads + j;
      const float inv = sc.l[r] > 0 ? 1.0f / sc.l[r] : 0.0f;
      float* dst = out + (i * c.hq + t.head0 + j) * c.hd;
      const float* ar = sc.acc.data() + r * c.hd;
      for (int64_t d = 0; d < c.hd; ++d) dst[d] = ar[d] * inv;
    }
  }
}

}  // namespace

std::vector<VerticalSlashChoice> EstimateVerticalSlash(const AttentionArgs& a) {
  CHECK(a.pattern != nullptr && a.pattern->kind == PrefillPattern::kVerticalSlash);
  const PrefillPattern& p = *a.pattern;
  const int64_t n = a.q.dim(0), hq = a.q.dim(1), hd = a.q.dim(2), cap = a.k.dim(1);
  const int64_t group = hq / a.k.dim(0);
  const int64_t lq = std::min(p.last_q, n);
  std::vector<VerticalSlashChoice> out(hq);
  ParallelFor(hq, 1, [&](int64_t b, int64_t e) {
    std::vector<float> s;
    std::vector<double> vertical, slash;
    for (int64_t h = b; h < e; ++h) {
      const int64_t kvh = h / group, len = a.kv_len[kvh], base = len - n;
      s.resize(lq * len);
      const float* q = a.q.data<float>() + ((n - lq) * hq + h) * hd;
      const float* k = a.k.data<float>() + kvh * cap * hd;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, lq, len, hd, a.scale, q, hq * hd, k, hd, 0.0f,
                  s.data(), len);
      vertical.assign(len, 0.0);
      slash.assign(len, 0.0);
      for (int64_t t = 0; t < lq; ++t) {
        const int64_t r = base + n - lq + t;  // this query's cache row
        const float* row = s.data() + t * len;
        float mx = kNegInf;
        for (int64_t j = 0; j <= r; ++j) mx = std::max(mx, row[j]);
        double sum = 0;
        for (int64_t j = 0; j <= r; ++j) sum += std::exp(static_cast<double>(row[j]) - mx);
        const double inv = 1.0 / sum;
        for (int64_t j = 0; j <= r; ++j) {
          const double pj = std::exp(static_cast<double>(row[j]) - mx) * inv;
          vertical[j] += pj;
          slash[r - j] += pj;
        }
      }
      out[h] = ChooseVerticalSlash(p, vertical, slash);
    }
  });
  return out;
}

void SparseAttention(const AttentionArgs& a) {
  Context c{a, a.q.dim(0), a.q.dim(1), a.q.dim(2), a.k.dim(0), a.q.dim(1) / a.k.dim(0), a.k.dim(1)};
  const PrefillPattern::Kind kind = a.pattern ? a.pattern->kind : PrefillPattern::kDense;
  std::vector<VerticalSlashChoice> vs;
  if (kind == PrefillPattern::kVerticalSlash) {
    CHECK_EQ(a.pattern_rows_after, 0) << "attention: vertical_slash needs its whole span in one call";
    vs = EstimateVerticalSlash(a);
    c.vs = &vs;
  }
  std::mutex mass_mu;
  if (a.attention_mass.defined()) {
    CHECK(a.attention_mass.dim(0) == c.hq) << "attention: mass must be [num_heads, cols]";
    c.mass = a.attention_mass.data<float>();
    c.mass_cols = a.attention_mass.dim(1);
    c.mass_mu = &mass_mu;
  }
  const std::vector<AttentionTile> tasks = SparseAttentionTiles(a);
  std::atomic<int64_t> computed{0}, causal{0};
  ParallelFor(static_cast<int64_t>(tasks.size()), 1, [&](int64_t b, int64_t e) {
    thread_local Scratch sc;
    AttentionStats local;
    for (int64_t i = b; i < e; ++i) {
      const AttentionTile& t = tasks[i];
      const int64_t rows = (t.q_end - t.q_begin) * t.heads;
      BuildTileGeometry(a, c.vs != nullptr ? &(*c.vs)[t.head0] : nullptr, t, sc.g);
      if (a.stats != nullptr) local.Add(CountTilePairs(t, sc.g));
      sc.m.assign(rows, kNegInf);
      sc.l.assign(rows, 0.0f);
      sc.acc.assign(rows * c.hd, 0.0f);
      PackQueries(c, t, sc);
      Accumulate(c, t, sc);
      Finish(c, t, sc);
      if (c.mass != nullptr) AccumulateMass(c, t, sc);
    }
    computed += local.computed_pairs;
    causal += local.causal_pairs;
  });
  if (a.stats != nullptr) a.stats->Add({computed.load(), causal.load()});
}

}  // namespace kvlab::cpu
