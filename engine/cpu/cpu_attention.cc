// Causal attention on the CPU: block-wise online softmax (flash-attention
// style) with BLAS for the two products of each block. The queries of one GQA
// group are packed together so each key block is multiplied once per group.
#include <cblas.h>

#include <algorithm>
#include <vector>

#include "common/check.h"
#include "common/parallel.h"
#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/small_gemm.h"
#include "engine/cpu/sparse_attention.h"
#include "engine/cpu/vec_math.h"

namespace kvlab::cpu {
namespace {

constexpr int64_t kQueryBlock = 64;  // query positions per task
constexpr int64_t kKeyBlock = 256;   // keys per inner step
constexpr int64_t kSmallRows = 16;   // up to this many packed rows, skip BLAS

// Online-softmax state of `rows` packed query rows.
struct State {
  float* m;    // running max per row
  float* l;    // running sum of exp per row
  float* acc;  // running weighted sum of values, [rows, head_dim]
};

// Per-thread scratch buffers, grown on demand.
struct Scratch {
  std::vector<float> q, s, m, l, acc;
};

// Packs the queries [q_begin, q_end) of KV head `kv_head`'s group into
// sc.q as rows (query i, head j) -> i * group + j.
void PackQueries(const AttentionArgs& a, int64_t kv_head, int64_t q_begin, int64_t q_end, Scratch& sc) {
  const int64_t hq = a.q.dim(1), hd = a.q.dim(2), group = hq / a.k.dim(0);
  sc.q.resize((q_end - q_begin) * group * hd);
  const float* qsrc = a.q.data<float>();
  for (int64_t i = q_begin; i < q_end; ++i) {
    const float* src = qsrc + (i * hq + kv_head * group) * hd;
    std::copy(src, src + group * hd, sc.q.data() + (i - q_begin) * group * hd);
  }
}

// Folds keys [k_lo, k_hi) of `kv_head` into the state of the packed queries
// [q_begin, q_end), applying the causal and sliding-window masks.
void Accumulate(const AttentionArgs& a, int64_t kv_head, int64_t q_begin, int64_t q_end, int64_t k_lo,
                int64_t k_hi, Scratch& sc, const State& st) {
  const int64_t n = a.q.dim(0), hq = a.q.dim(1), hd = a.q.dim(2);
  const int64_t cap = a.k.dim(1), group = hq / a.k.dim(0);
  const int64_t base = a.kv_len[kv_head] - n;  // cache row of query 0
  const int64_t rows = (q_end - q_begin) * group;
  const int64_t first_q_row = base + q_begin, last_q_row = base + q_end - 1;
  const float* kh = a.k.data<float>() + kv_head * cap * hd;
  const float* vh = a.v.data<float>() + kv_head * cap * hd;
  sc.s.resize(rows * kKeyBlock);
  for (int64_t k0 = k_lo; k0 < k_hi; k0 += kKeyBlock) {
    const int64_t kb = std::min(kKeyBlock, k_hi - k0);
    float* s = sc.s.data();
    if (rows <= kSmallRows) {
      SmallQK(sc.q.data(), rows, kh + k0 * hd, kb, hd, a.scale, s);
    } else {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, kb, hd, a.scale, sc.q.data(), hd,
                  kh + k0 * hd, hd, 0.0f, s, kb);
    }
    const bool needs_mask = k0 + kb - 1 > first_q_row ||
                            (a.sliding_window > 0 && k0 <= last_q_row - a.sliding_window);
    for (int64_t r = 0; r < rows; ++r) {
      float* sr = s + r * kb;
      if (needs_mask) {
        const int64_t qrow = base + q_begin + r / group;
        const int64_t hi = qrow - k0;  // last visible key offset in this block
        const int64_t lo = a.sliding_window > 0 ? qrow - a.sliding_window + 1 - k0 : 0;
        for (int64_t j = 0; j < kb; ++j) {
          if (j > hi || j < lo) sr[j] = kNegInf;
        }
      }
      float mx = kNegInf;
      for (int64_t j = 0; j < kb; ++j) mx = std::max(mx, sr[j]);
      if (mx == kNegInf) {  // nothing visible in this block for this row
        std::fill(sr, sr + kb, 0.0f);
        continue;
      }
      const float m_new = std::max(st.m[r], mx);
      const float alpha = st.m[r] == kNegInf ? 0.0f : FastExp(st.m[r] - m_new);
      float sum = 0.0f;
      for (int64_t j = 0; j < kb; ++j) {
        float p = sr[j] == kNegInf ? 0.0f : FastExp(sr[j] - m_new);
        sr[j] = p;
        sum += p;
      }
      st.l[r] = st.l[r] * alpha + sum;
      st.m[r] = m_new;
      if (alpha != 1.0f) {
        float* ar = st.acc + r * hd;
        for (int64_t d = 0; d < hd; ++d) ar[d] *= alpha;
      }
    }
    if (rows <= kSmallRows) {
      SmallPV(s, rows, vh + k0 * hd, kb, hd, st.acc);
    } else {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, hd, kb, 1.0f, s, kb, vh + k0 * hd, hd,
                  1.0f, st.acc, hd);
    }
  }
}

// Writes acc / l of the packed rows of [q_begin, q_end) into args.out.
void Finish(const AttentionArgs& a, int64_t kv_head, int64_t q_begin, int64_t q_end, const State& st) {
  const int64_t hq = a.q.dim(1), hd = a.q.dim(2), group = hq / a.k.dim(0);
  float* out = a.out.data<float>();
  for (int64_t i = q_begin; i < q_end; ++i) {
    for (int64_t j = 0; j < group; ++j) {
      const int64_t r = (i - q_begin) * group + j;
      const float inv = st.l[r] > 0 ? 1.0f / st.l[r] : 0.0f;
      float* dst = out + (i * hq + kv_head * group + j) * hd;
      const float* ar = st.acc + r * hd;
      for (int64_t d = 0; d < hd; ++d) dst[d] = ar[d] * inv;
    }
  }
}

// Keys visible to any of the queries [q_begin, q_end) of `kv_head`.
std::pair<int64_t, int64_t> KeyRange(const AttentionArgs& a, int64_t kv_head, int64_t q_begin, int64_t q_end) {
  const int64_t base = a.kv_len[kv_head] - a.q.dim(0);
  int64_t lo = 0;
  if (a.sliding_window > 0) lo = std::max<int64_t>(0, base + q_begin - a.sliding_window + 1);
  return {lo, base + q_end};
}

// Many queries: one task per (KV head, query block), each over all its keys.
void PrefillAttention(const AttentionArgs& a) {
  const int64_t n = a.q.dim(0), hkv = a.k.dim(0), hd = a.q.dim(2), group = a.q.dim(1) / hkv;
  struct Task {
    int64_t kv_head, q_begin, q_end;
  };
  std::vector<Task> tasks;
  // Later query blocks see more keys: schedule them first for better balance.
  for (int64_t q0 = ((n - 1) / kQueryBlock) * kQueryBlock; q0 >= 0; q0 -= kQueryBlock) {
    for (int64_t h = 0; h < hkv; ++h) tasks.push_back({h, q0, std::min(n, q0 + kQueryBlock)});
  }
  ParallelFor(static_cast<int64_t>(tasks.size()), 1, [&](int64_t b, int64_t e) {
    thread_local Scratch sc;
    for (int64_t i = b; i < e; ++i) {
      const Task& t = tasks[i];
      const int64_t rows = (t.q_end - t.q_begin) * group;
      sc.m.assign(rows, kNegInf);
      sc.l.assign(rows, 0.0f);
      sc.acc.assign(rows * hd, 0.0f);
      State st{sc.m.data(), sc.l.data(), sc.acc.data()};
      PackQueries(a, t.kv_head, t.q_begin, t.q_end, sc);
      auto [lo, hi] = KeyRange(a, t.kv_head, t.q_begin, t.q_end);
      Accumulate(a, t.kv_head, t.q_begin, t.q_end, lo, hi, sc, st);
      Finish(a, t.kv_head, t.q_begin, t.q_end, st);
    }
  });
}

// Few queries (decode): split each head's keys into segments processed in
// parallel, then merge the partial softmax states (flash-decoding).
void DecodeAttention(const AttentionArgs& a) {
  const int64_t n = a.q.dim(0), hkv = a.k.dim(0), hd = a.q.dim(2), group = a.q.dim(1) / hkv;
  const int64_t rows = n * group;
  constexpr int64_t kSegment = 1024;
  struct Task {
    int64_t kv_head, k_lo, k_hi;
  };
  std::vector<Task> tasks;
  std::vector<int64_t> first_task(hkv + 1);
  for (int64_t h = 0; h < hkv; ++h) {
    first_task[h] = static_cast<int64_t>(tasks.size());
    auto [lo, hi] = KeyRange(a, h, 0, n);
    for (int64_t k = lo; k < hi; k += kSegment) tasks.push_back({h, k, std::min(hi, k + kSegment)});
  }
  first_task[hkv] = static_cast<int64_t>(tasks.size());
  const int64_t stride = rows * (hd + 2);
  std::vector<float> partial(tasks.size() * stride);
  ParallelFor(static_cast<int64_t>(tasks.size()), 1, [&](int64_t b, int64_t e) {
    thread_local Scratch sc;
    for (int64_t i = b; i < e; ++i) {
      const Task& t = tasks[i];
      float* p = partial.data() + i * stride;
      State st{p, p + rows, p + 2 * rows};
      std::fill(st.m, st.m + rows, kNegInf);
      std::fill(st.l, st.l + rows + rows * hd, 0.0f);
      PackQueries(a, t.kv_head, 0, n, sc);
      Accumulate(a, t.kv_head, 0, n, t.k_lo, t.k_hi, sc, st);
    }
  });
  std::vector<float> m(rows), l(rows), acc(rows * hd);
  for (int64_t h = 0; h < hkv; ++h) {
    std::fill(m.begin(), m.end(), kNegInf);
    for (int64_t t = first_task[h]; t < first_task[h + 1]; ++t) {
      const float* pm = partial.data() + t * stride;
      for (int64_t r = 0; r < rows; ++r) m[r] = std::max(m[r], pm[r]);
    }
    std::fill(l.begin(), l.end(), 0.0f);
    std::fill(acc.begin(), acc.end(), 0.0f);
    for (int64_t t = first_task[h]; t < first_task[h + 1]; ++t) {
      const float* p = partial.data() + t * stride;
      for (int64_t r = 0; r < rows; ++r) {
        if (p[r] == kNegInf) continue;
        const float w = FastExp(p[r] - m[r]);
        l[r] += w * p[rows + r];
        for (int64_t d = 0; d < hd; ++d) acc[r * hd + d] += w * p[2 * rows + r * hd + d];
      }
    }
    Finish(a, h, 0, n, State{m.data(), l.data(), acc.data()});
  }
}

}  // namespace

void Attention(const AttentionArgs& a) {
  const int64_t n = a.q.dim(0), hq = a.q.dim(1), hkv = a.k.dim(0);
  CHECK_EQ(hq % hkv, 0);
  CHECK_EQ(static_cast<int64_t>(a.kv_len.size()), hkv);
  for (int64_t h = 0; h < hkv; ++h) {
    CHECK(a.kv_len[h] >= n && a.kv_len[h] <= a.k.dim(1)) << "attention: bad kv length";
  }
  CHECK(a.pattern_rows_after >= 0) << "attention: negative pattern_rows_after";
  // Sparse patterns and the attention-mass observation run on the tiled
  // sparse kernel (which also handles the dense pattern with mass).
  if ((a.pattern != nullptr && !a.pattern->is_dense()) || a.attention_mass.defined()) {
    SparseAttention(a);
    return;
  }
  if (a.stats != nullptr) a.stats->Add(DenseAttentionStats(a));
  // Few query rows per head leave too little parallel work per head: split
  // the keys instead.
  if (n * (hq / hkv) <= kSmallRows) {
    DecodeAttention(a);
  } else {
    PrefillAttention(a);
  }
}

}  // namespace kvlab::cpu
