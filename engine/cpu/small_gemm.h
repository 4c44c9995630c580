// Attention products for few query rows (decode): BLAS matrix-vector calls
// per row, which stream the key/value block without the packing that a
// matrix-matrix call does and that costs more than the arithmetic here.
#ifndef KVLAB_ENGINE_CPU_SMALL_GEMM_H_
#define KVLAB_ENGINE_CPU_SMALL_GEMM_H_

#include <cblas.h>

#include <cstdint>

namespace kvlab::cpu {

// s[r * kb + j] = scale * dot(q[r], k[j]) for r < rows, j < kb; q is
// [rows, hd], k is [kb, hd] (row stride hd).
inline void SmallQK(const float* q, int64_t rows, const float* k, int64_t kb, int64_t hd, float scale,
                    float* s) {
  for (int64_t r = 0; r < rows; ++r) {
    cblas_sgemv(CblasRowMajor, CblasNoTrans, kb, hd, scale, k, hd, q + r * hd, 1, 0.0f, s + r * kb, 1);
  }
}

// acc[r] += sum_j p[r * kb + j] * v[j] for r < rows; v is [kb, hd].
inline void SmallPV(const float* p, int64_t rows, const float* v, int64_t kb, int64_t hd, float* acc) {
  for (int64_t r = 0; r < rows; ++r) {
    cblas_sgemv(CblasRowMajor, CblasTrans, kb, hd, 1.0f, v, hd, p + r * kb, 1, 1.0f, acc + r * hd, 1);
  }
}

}  // namespace kvlab::cpu

#endif  // KVLAB_ENGINE_CPU_SMALL_GEMM_H_
