// Internal: CUDA and cuBLAS results as absl::Status.
#ifndef KVLAB_ENGINE_CUDA_CUDA_STATUS_H_
#define KVLAB_ENGINE_CUDA_CUDA_STATUS_H_

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace kvlab::cuda {

// OK for cudaSuccess; otherwise RESOURCE_EXHAUSTED for out-of-memory and
// INTERNAL for every other error, naming `what` and CUDA's error string.
inline absl::Status CudaStatus(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return absl::OkStatus();
  std::string msg = absl::StrCat("CUDA ", what, ": ", cudaGetErrorName(e), " (", cudaGetErrorString(e), ")");
  if (e == cudaErrorMemoryAllocation) return absl::ResourceExhaustedError(msg);
  return absl::InternalError(msg);
}

inline absl::Status CublasStatus(cublasStatus_t s, const char* what) {
  if (s == CUBLAS_STATUS_SUCCESS) return absl::OkStatus();
  std::string msg = absl::StrCat("cuBLAS ", what, ": ", cublasGetStatusName(s), " (", cublasGetStatusString(s), ")");
  if (s == CUBLAS_STATUS_ALLOC_FAILED) return absl::ResourceExhaustedError(msg);
  return absl::InternalError(msg);
}

}  // namespace kvlab::cuda

#endif  // KVLAB_ENGINE_CUDA_CUDA_STATUS_H_
