// The CUDA backend: every Backend op on one CUDA stream of one device, with
// cuBLAS GEMMs (weights in their checkpoint dtype, f32 accumulation), our own
// kernels for the rest, KV caches in bf16 by default, and a caching device
// allocator. Builds without CUDA too (then creation fails with UNAVAILABLE).
#ifndef KVLAB_ENGINE_CUDA_CUDA_BACKEND_H_
#define KVLAB_ENGINE_CUDA_CUDA_BACKEND_H_

#include <memory>
#include <optional>

#include "absl/status/statusor.h"
#include "engine/backend.h"

namespace kvlab {

struct CudaBackendOptions {
  int device = 0;
  // Element type of KV caches: bf16 (default), f16 or f32.
  DType kv_dtype = DType::kBF16;
  // Element type of weight matrices; unset keeps the checkpoint's dtype.
  std::optional<DType> weights_dtype;
};

// Number of CUDA devices this process can use: 0 without CUDA in the build,
// without a driver, or when the runtime reports an error. Thread-safe.
int CudaDeviceCount();

// A CUDA backend on options.device. UNAVAILABLE when the build has no CUDA or
// the device does not exist; INTERNAL / RESOURCE_EXHAUSTED when creating the
// stream or the cuBLAS handle fails. The backend serializes its ops (safe to
// call from several threads; each caller's ops keep their order on the one
// stream); a device error is sticky and reported by the next Synchronize or
// Download, after which the request should be failed, never the process.
absl::StatusOr<std::unique_ptr<Backend>> NewCudaBackend(const CudaBackendOptions& options);

}  // namespace kvlab

#endif  // KVLAB_ENGINE_CUDA_CUDA_BACKEND_H_
