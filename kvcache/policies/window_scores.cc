#include "kvcache/policies/window_scores.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/cpu/vec_math.h"

namespace kvlab {

std::vector<float> Pool1d(std::span<const float> x, int64_t kernel, PoolKind pool) {
  const int64_t n = static_cast<int64_t>(x.size()), r = kernel / 2;
  std::vector<float> out(n);
  if (kernel <= 1) {
    std::copy(x.begin(), x.end(), out.begin());
    return out;
  }
  for (int64_t j = 0; j < n; ++j) {
    const int64_t lo = std::max<int64_t>(0, j - r), hi = std::min<int64_t>(n - 1, j + r);
    if (pool == PoolKind::kAvg) {
      float s = 0;
      for (int64_t t = lo; t <= hi; ++t) s += x[t];
      out[j] = s / static_cast<float>(kernel);
    } else {
      float m = -std::numeric_limits<float>::infinity();
      for (int64_t t = lo; t <= hi; ++t) m = std::max(m, x[t]);
      out[j] = m;
    }
  }
  return out;
}

std::vector<float> WindowScores(std::span<const float> q, int64_t w, int64_t num_q_heads, int64_t q_first,
                                int64_t q_count, std::span<const float> k, int64_t n, int64_t head_dim,
                                int64_t kernel, PoolKind pool) {
  const int64_t prefix = n - w;
  std::vector<float> result(prefix, 0.0f);
  // Scratch reused across calls on this thread: fresh multi-MiB buffers cost
  // page faults on every call.
  thread_local std::vector<float> packed, logits, summed;
  packed.resize(q_count * w * head_dim);
  logits.resize(q_count * w * n);
  summed.resize(prefix);
  // The group's window queries as one [q_count * w, head_dim] matrix, so a
  // single GEMM scores them all against the keys.
  for (int64_t g = 0; g < q_count; ++g) {
    for (int64_t i = 0; i < w; ++i) {
      std::copy_n(q.data() + (i * num_q_heads + q_first + g) * head_dim, head_dim,
                  packed.data() + (g * w + i) * head_dim);
    }
  }
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  // logits[g * w + i, j] = scale * q[i, q_first + g, :] . k[j, :]
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(q_count * w), static_cast<int>(n),
              static_cast<int>(head_dim), scale, packed.data(), static_cast<int>(head_dim), k.data(),
              static_cast<int>(head_dim), 0.0f, logits.data(), static_cast<int>(n));
  for (int64_t g = 0; g < q_count; ++g) {
    std::fill(summed.begin(), summed.end(), 0.0f);
    for (int64_t i = 0; i < w; ++i) {
      float* row = logits.data() + (g * w + i) * n;
      const int64_t visible = prefix + i + 1;
      float mx = -std::numeric_limits<float>::infinity();
      for (int64_t j = 0; j < visible; ++j) mx = std::max(mx, row[j]);
      float sum = 0;
      for (int64_t j = 0; j < visible; ++j) {
        row[j] = cpu::FastExp(row[j] - mx);
        sum += row[j];
      }
      const float inv = 1.0f / sum;
      for (int64_t j = 0; j < prefix; ++j) summed[j] += row[j] * inv;
    }
    std::vector<float> pooled = Pool1d(summed, kernel, pool);
    for (int64_t j = 0; j < prefix; ++j) result[j] += pooled[j];
  }
  const float inv_count = 1.0f / static_cast<float>(q_count);
  for (float& s : result) s *= inv_count;
  return result;
}

}  // namespace kvlab
