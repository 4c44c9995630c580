// Limits of a CUDA device measured in the same run as a benchmark: what
// engine_bench --backend=cuda reports its figures against.
#ifndef KVLAB_BENCH_GPU_LIMITS_H_
#define KVLAB_BENCH_GPU_LIMITS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace kvlab::bench {

struct GpuLimits {
  std::string device_name;
  // cuBLAS bf16 GEMM (f32 accumulate) C[m, n] = A[m, k] B[k, n], best of a
  // few runs, in TFLOP/s.
  double gemm_tflops = 0;
  // Device-to-device cudaMemcpy of 1 GiB: bytes READ per second (the copy
  // reads and writes each byte; this counts the reads), in GB/s.
  double copy_read_gbs = 0;
};

// Measures device `device`. UNAVAILABLE in a build without CUDA.
absl::StatusOr<GpuLimits> MeasureGpuLimits(int device, int64_t m, int64_t n, int64_t k);

// Bytes of device memory in use on `device` (total minus free); 0 without CUDA.
int64_t DeviceMemoryInUse(int device);

}  // namespace kvlab::bench

#endif  // KVLAB_BENCH_GPU_LIMITS_H_
