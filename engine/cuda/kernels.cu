#include "engine/cuda/kernels.h"

#include "engine/cuda/elem.cuh"

namespace kvlab::cuda {
namespace {

constexpr int kThreads = 256;

unsigned Blocks(int64_t count) {
  const int64_t b = (count + kThreads - 1) / kThreads;
  return static_cast<unsigned>(b < 65535 * 32 ? (b < 1 ? 1 : b) : 65535 * 32);
}

template <typename T>
__global__ void EmbedKernel(const T* table, const int32_t* ids, int64_t n, int64_t d, float* out) {
  const int64_t total = n * d;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t row = i / d, col = i - row * d;
    out[i] = ToF32(table[static_cast<int64_t>(ids[row]) * d + col]);
  }
}

// One block per row: block-wide sum of squares, then the scaled row.
__global__ void RmsNormKernel(float* x, const float* residual, const float* w, float eps, int64_t d, float* out) {
  __shared__ float partial[32];
  float* xr = x + blockIdx.x * d;
  float ss = 0.0f;
  for (int64_t j = threadIdx.x; j < d; j += blockDim.x) {
    float v = xr[j];
    if (residual != nullptr) {
      v += residual[blockIdx.x * d + j];
      xr[j] = v;
    }
    ss += v * v;
  }
  for (int o = 16; o > 0; o >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, o);
  if ((threadIdx.x & 31) == 0) partial[threadIdx.x >> 5] = ss;
  __syncthreads();
  if (threadIdx.x < 32) {
    float v = threadIdx.x < (blockDim.x >> 5) ? partial[threadIdx.x] : 0.0f;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    if (threadIdx.x == 0) partial[0] = v;
  }
  __syncthreads();
  const float inv = 1.0f / sqrtf(partial[0] / static_cast<float>(d) + eps);
  float* o = out + blockIdx.x * d;
  for (int64_t j = threadIdx.x; j < d; j += blockDim.x) o[j] = w[j] * (xr[j] * inv);
}

template <typename T>
__global__ void SplitKernel(const float* x, int64_t count, T* out) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count; i += int64_t{gridDim.x} * blockDim.x) {
    const T hi = FromF32<T>(x[i]);
    out[i] = hi;
    out[count + i] = FromF32<T>(x[i] - ToF32(hi));
  }
}

__global__ void SumHalvesKernel(const float* two, const float* bias, int64_t n, int64_t d, float* out) {
  const int64_t total = n * d;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x) {
    out[i] = two[i] + two[total + i] + (bias != nullptr ? bias[i % d] : 0.0f);
  }
}

__global__ void AddBiasKernel(float* out, const float* bias, int64_t n, int64_t d) {
  const int64_t total = n * d;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x) {
    out[i] += bias[i % d];
  }
}

__global__ void RopeKernel(float* x, const float* table, int64_t n, int64_t heads, int64_t hd) {
  const int64_t half = hd / 2, total = n * heads * half;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t j = i % half, row = i / half, token = row / heads;
    const float c = table[(token * half + j) * 2], s = table[(token * half + j) * 2 + 1];
    float* v = x + row * hd;
    const float x1 = v[j], x2 = v[j + half];
    v[j] = x1 * c - x2 * s;
    v[j + half] = x2 * c + x1 * s;
  }
}

__global__ void SwiGluKernel(const float* gate, const float* up, float* out, int64_t count) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count; i += int64_t{gridDim.x} * blockDim.x) {
    const float g = gate[i];
    out[i] = g / (1.0f + expf(-g)) * up[i];
  }
}

__global__ void AddKernel(float* x, const float* y, int64_t count) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count; i += int64_t{gridDim.x} * blockDim.x) {
    x[i] += y[i];
  }
}

template <typename T>
__global__ void WriteKvKernel(const float* src, int64_t n, int64_t heads, int64_t hd, T* cache, int64_t cap,
                              const int64_t* row_begin) {
  const int64_t total = n * heads * hd;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t d = i % hd, h = (i / hd) % heads, t = i / (hd * heads);
    cache[(h * cap + row_begin[h] + t) * hd + d] = FromF32<T>(src[i]);
  }
}

}  // namespace

cudaError_t LaunchEmbed(cudaStream_t stream, DType table_type, const void* table, const int32_t* ids, int64_t n,
                        int64_t d, float* out) {
  KVLAB_DISPATCH_DTYPE(table_type, T,
                       EmbedKernel<T><<<Blocks(n * d), kThreads, 0, stream>>>(static_cast<const T*>(table), ids,
                                                                              n, d, out));
  return cudaGetLastError();
}

cudaError_t LaunchRmsNorm(cudaStream_t stream, float* x, const float* residual, const float* w, float eps,
                          int64_t n, int64_t d, float* out) {
  if (n == 0) return cudaSuccess;
  const int threads = d >= 1024 ? 1024 : (d >= 256 ? 256 : 64);
  RmsNormKernel<<<static_cast<unsigned>(n), threads, 0, stream>>>(x, residual, w, eps, d, out);
  return cudaGetLastError();
}

cudaError_t LaunchSplitF32(cudaStream_t stream, const float* x, int64_t n, int64_t d, DType to, void* out) {
  KVLAB_DISPATCH_DTYPE(to, T, SplitKernel<T><<<Blocks(n * d), kThreads, 0, stream>>>(x, n * d, static_cast<T*>(out)));
  return cudaGetLastError();
}

cudaError_t LaunchSumHalves(cudaStream_t stream, const float* two, const float* bias, int64_t n, int64_t d,
                            float* out) {
  SumHalvesKernel<<<Blocks(n * d), kThreads, 0, stream>>>(two, bias, n, d, out);
  return cudaGetLastError();
}

cudaError_t LaunchAddBias(cudaStream_t stream, float* out, const float* bias, int64_t n, int64_t d) {
  AddBiasKernel<<<Blocks(n * d), kThreads, 0, stream>>>(out, bias, n, d);
  return cudaGetLastError();
}

cudaError_t LaunchApplyRope(cudaStream_t stream, float* x, const float* table, int64_t n, int64_t heads,
                            int64_t hd) {
  RopeKernel<<<Blocks(n * heads * (hd / 2)), kThreads, 0, stream>>>(x, table, n, heads, hd);
  return cudaGetLastError();
}

cudaError_t LaunchSwiGlu(cudaStream_t stream, const float* gate, const float* up, float* out, int64_t count) {
  SwiGluKernel<<<Blocks(count), kThreads, 0, stream>>>(gate, up, out, count);
  return cudaGetLastError();
}

cudaError_t LaunchAdd(cudaStream_t stream, float* x, const float* y, int64_t count) {
  AddKernel<<<Blocks(count), kThreads, 0, stream>>>(x, y, count);
  return cudaGetLastError();
}

cudaError_t LaunchWriteKv(cudaStream_t stream, const float* src, int64_t n, int64_t heads, int64_t hd,
                          DType cache_type, void* cache, int64_t cap, const int64_t* row_begin) {
  KVLAB_DISPATCH_DTYPE(cache_type, T,
                       WriteKvKernel<T><<<Blocks(n * heads * hd), kThreads, 0, stream>>>(
                           src, n, heads, hd, static_cast<T*>(cache), cap, row_begin));
  return cudaGetLastError();
}

}  // namespace kvlab::cuda
