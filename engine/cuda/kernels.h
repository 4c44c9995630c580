// Internal: launchers of the CUDA backend's elementwise and row kernels.
// Every launcher enqueues on `stream` and returns the launch error (the
// kernel's own failures surface at the next synchronization). Pointers are
// device pointers; shapes are row-major and contiguous.
#ifndef KVLAB_ENGINE_CUDA_KERNELS_H_
#define KVLAB_ENGINE_CUDA_KERNELS_H_

#include <cuda_runtime_api.h>

#include <cstdint>

#include "engine/dtype.h"

namespace kvlab::cuda {

// out[i, :] = f32(table[ids[i], :]); table [vocab, d] of `table_type`.
cudaError_t LaunchEmbed(cudaStream_t stream, DType table_type, const void* table, const int32_t* ids, int64_t n,
                        int64_t d, float* out);
// out = x * rsqrt(mean(x^2) + eps) * w per row of d; with `residual`, first
// x += residual (written back), then the norm of the sum (fused add + norm).
cudaError_t LaunchRmsNorm(cudaStream_t stream, float* x, const float* residual, const float* w, float eps,
                          int64_t n, int64_t d, float* out);
// Splits f32 x [n, d] into two rows blocks of `to` (16-bit): hi = to(x) in
// rows [0, n) and lo = to(x - hi) in rows [n, 2n) of out [2n, d], so that a
// GEMM with a 16-bit matrix multiplies x to ~16 more bits than hi alone.
cudaError_t LaunchSplitF32(cudaStream_t stream, const float* x, int64_t n, int64_t d, DType to, void* out);
// out[i, j] = two[i, j] + two[n + i, j] (+ bias[j]); two [2n, d], out [n, d].
cudaError_t LaunchSumHalves(cudaStream_t stream, const float* two, const float* bias, int64_t n, int64_t d,
                            float* out);
// out[i, j] += bias[j], out [n, d].
cudaError_t LaunchAddBias(cudaStream_t stream, float* out, const float* bias, int64_t n, int64_t d);
// Rotate-half RoPE in place on x [n, heads, hd] by table [n, hd/2, 2].
cudaError_t LaunchApplyRope(cudaStream_t stream, float* x, const float* table, int64_t n, int64_t heads,
                            int64_t hd);
// out = silu(gate) * up.
cudaError_t LaunchSwiGlu(cudaStream_t stream, const float* gate, const float* up, float* out, int64_t count);
// x += y.
cudaError_t LaunchAdd(cudaStream_t stream, float* x, const float* y, int64_t count);
// cache[h, row_begin[h] + i, :] = src[i, h, :] converted to `cache_type`;
// src [n, heads, hd] f32, cache [heads, cap, hd], row_begin on the device.
cudaError_t LaunchWriteKv(cudaStream_t stream, const float* src, int64_t n, int64_t heads, int64_t hd,
                          DType cache_type, void* cache, int64_t cap, const int64_t* row_begin);

}  // namespace kvlab::cuda

#endif  // KVLAB_ENGINE_CUDA_KERNELS_H_
