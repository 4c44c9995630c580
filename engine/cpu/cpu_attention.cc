// Causal attention on the CPU: block-wise online softmax (flash-attention
// style) with BLAS for the two products of each block. The queries of one GQA
// group are packed together so each key block is multiplied once per group.
#include <cblas.h>

#include <algorithm>
#include <vector>

#include "common/check.h"
#include "common/parallel.h"
#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/vec_math.h"

namespace kvlab::cpu {
namespace {

constexpr int64_t kQueryBlock = 64;  // query positions per task
constexpr int64_t kKeyBlock = 256;   // keys per inner step

struct Task {
  int64_t kv_head;
  int64_t q_begin;  // query index within the n new rows
  int64_t q_end;
};

// Per-thread scratch buffers, grown on demand.
struct Scratch {
  std::vector<float> q, s, acc, m, l;
};

void RunTask(const AttentionArgs& a, const Task& t, Scratch& sc) {
  const int64_t n = a.q.dim(0), hq = a.q.dim(1), hd = a.q.dim(2);
  const int64_t hkv = a.k.dim(0), cap = a.k.dim(1);
  const int64_t group = hq / hkv;
  const int64_t len = a.kv_len[t.kv_head];
  const int64_t base = len - n;  // cache row of query 0
  const int64_t qn = t.q_end - t.q_begin;
  const int64_t rows = qn * group;  // packed rows: (query i, head j) -> i * group + j

  sc.q.resize(rows * hd);
  sc.s.resize(rows * kKeyBlock);
  sc.acc.assign(rows * hd, 0.0f);
  sc.m.assign(rows, kNegInf);
  sc.l.assign(rows, 0.0f);
  const float* qsrc = a.q.data<float>();
  for (int64_t i = 0; i < qn; ++i) {
    const float* src = qsrc + ((t.q_begin + i) * hq + t.kv_head * group) * hd;
    std::copy(src, src + group * hd, sc.q.data() + i * group * hd);
  }
  const float* kh = a.k.data<float>() + t.kv_head * cap * hd;
  const float* vh = a.v.data<float>() + t.kv_head * cap * hd;

  // Keys visible to any query of this block.
  const int64_t first_q_row = base + t.q_begin;
  const int64_t last_q_row = base + t.q_end - 1;
  int64_t key_begin = 0;
  if (a.sliding_window > 0) key_begin = std::max<int64_t>(0, first_q_row - a.sliding_window + 1);
  const int64_t key_end = last_q_row + 1;

  for (int64_t k0 = key_begin; k0 < key_end; k0 += kKeyBlock) {
    const int64_t kb = std::min(kKeyBlock, key_end - k0);
    float* s = sc.s.data();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, kb, hd, a.scale, sc.q.data(), hd,
                kh + k0 * hd, hd, 0.0f, s, kb);
    const bool needs_mask =
        k0 + kb - 1 > first_q_row ||
        (a.sliding_window > 0 && k0 <= last_q_row - a.sliding_window);
    for (int64_t r = 0; r < rows; ++r) {
      float* sr = s + r * kb;
      if (needs_mask) {
        const int64_t qrow = base + t.q_begin + r / group;
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
      const float m_new = std::max(sc.m[r], mx);
      const float alpha = sc.m[r] == kNegInf ? 0.0f : FastExp(sc.m[r] - m_new);
      float sum = 0.0f;
      for (int64_t j = 0; j < kb; ++j) {
        float p = sr[j] == kNegInf ? 0.0f : FastExp(sr[j] - m_new);
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
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, hd, kb, 1.0f, s, kb,
                vh + k0 * hd, hd, 1.0f, sc.acc.data(), hd);
  }

  float* out = a.out.data<float>();
  for (int64_t i = 0; i < qn; ++i) {
    for (int64_t j = 0; j < group; ++j) {
      const int64_t r = i * group + j;
      const float inv = sc.l[r] > 0 ? 1.0f / sc.l[r] : 0.0f;
      float* dst = out + ((t.q_begin + i) * hq + t.kv_head * group + j) * hd;
      const float* ar = sc.acc.data() + r * hd;
      for (int64_t d = 0; d < hd; ++d) dst[d] = ar[d] * inv;
    }
  }
}

}  // namespace

void Attention(const AttentionArgs& a) {
  const int64_t n = a.q.dim(0), hq = a.q.dim(1);
  const int64_t hkv = a.k.dim(0);
  CHECK_EQ(hq % hkv, 0);
  CHECK_EQ(static_cast<int64_t>(a.kv_len.size()), hkv);
  for (int64_t h = 0; h < hkv; ++h) {
    CHECK(a.kv_len[h] >= n && a.kv_len[h] <= a.k.dim(1)) << "attention: bad kv length";
  }
  std::vector<Task> tasks;
  // Later query blocks see more keys: schedule them first for better balance.
  for (int64_t q0 = ((n - 1) / kQueryBlock) * kQueryBlock; q0 >= 0; q0 -= kQueryBlock) {
    for (int64_t h = 0; h < hkv; ++h) tasks.push_back({h, q0, std::min(n, q0 + kQueryBlock)});
  }
  ParallelFor(static_cast<int64_t>(tasks.size()), 1, [&](int64_t b, int64_t e) {
    thread_local Scratch scratch;
    for (int64_t i = b; i < e; ++i) RunTask(a, tasks[i], scratch);
  });
}

}  // namespace kvlab::cpu
