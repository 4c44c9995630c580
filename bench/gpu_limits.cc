#include "bench/gpu_limits.h"

#ifdef KVLAB_HAVE_CUDA
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#endif

namespace kvlab::bench {

#ifdef KVLAB_HAVE_CUDA
namespace {

// Seconds of the fastest of `reps` runs of fn (after one warm-up), timed
// with CUDA events on the default stream.
template <typename Fn>
double BestSeconds(int reps, Fn fn) {
  cudaEvent_t a, b;
  cudaEventCreate(&a);
  cudaEventCreate(&b);
  fn();
  double best = 1e30;
  for (int i = 0; i < reps; ++i) {
    cudaEventRecord(a);
    fn();
    cudaEventRecord(b);
    cudaEventSynchronize(b);
    float ms = 0;
    cudaEventElapsedTime(&ms, a, b);
    best = std::min(best, ms / 1e3);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  return best;
}

}  // namespace

absl::StatusOr<GpuLimits> MeasureGpuLimits(int device, int64_t m, int64_t n, int64_t k) {
  GpuLimits out;
  if (cudaSetDevice(device) != cudaSuccess) return absl::UnavailableError("no CUDA device");
  cudaDeviceProp prop;
  cudaGetDeviceProperties(&prop, device);
  out.device_name = prop.name;
  void *a = nullptr, *b = nullptr, *c = nullptr;
  const size_t copy_bytes = size_t{1} << 30;
  if (cudaMalloc(&a, std::max<size_t>(m * k * 2, copy_bytes)) != cudaSuccess ||
      cudaMalloc(&b, std::max<size_t>(k * n * 2, copy_bytes)) != cudaSuccess ||
      cudaMalloc(&c, m * n * 4) != cudaSuccess) {
    cudaFree(a);
    cudaFree(b);
    return absl::ResourceExhaustedError("cannot allocate the GEMM/copy buffers");
  }
  cudaMemset(a, 0, std::max<size_t>(m * k * 2, copy_bytes));
  cudaMemset(b, 0, std::max<size_t>(k * n * 2, copy_bytes));
  cublasHandle_t h;
  cublasCreate(&h);
  const float one = 1.0f, zero = 0.0f;
  const double gemm_s = BestSeconds(5, [&] {
    cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(n), static_cast<int>(m), static_cast<int>(k), &one,
                 b, CUDA_R_16BF, static_cast<int>(k), a, CUDA_R_16BF, static_cast<int>(k), &zero, c, CUDA_R_32F,
                 static_cast<int>(n), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
  });
  out.gemm_tflops = 2.0 * m * n * k / gemm_s / 1e12;
  const double copy_s = BestSeconds(5, [&] { cudaMemcpy(b, a, copy_bytes, cudaMemcpyDeviceToDevice); });
  out.copy_read_gbs = copy_bytes / copy_s / 1e9;
  cublasDestroy(h);
  cudaFree(a);
  cudaFree(b);
  cudaFree(c);
  if (cudaGetLastError() != cudaSuccess) return absl::InternalError("CUDA error while measuring the limits");
  return out;
}

int64_t DeviceMemoryInUse(int device) {
  size_t free_b = 0, total_b = 0;
  cudaSetDevice(device);
  if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) return 0;
  return static_cast<int64_t>(total_b - free_b);
}

#else

absl::StatusOr<GpuLimits> MeasureGpuLimits(int, int64_t, int64_t, int64_t) {
  return absl::UnavailableError("this build has no CUDA");
}

int64_t DeviceMemoryInUse(int) { return 0; }

#endif

}  // namespace kvlab::bench
