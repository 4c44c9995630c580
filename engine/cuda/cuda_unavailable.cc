// The CUDA backend's entry points in a build without CUDA.
#include "engine/cuda/cuda_backend.h"

namespace kvlab {

int CudaDeviceCount() { return 0; }

absl::StatusOr<std::unique_ptr<Backend>> NewCudaBackend(const CudaBackendOptions&) {
  return absl::UnavailableError("this build of kvlab has no CUDA backend (configure with -DKVLAB_CUDA=ON)");
}

}  // namespace kvlab
