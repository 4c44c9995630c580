#include "services/kvstore/tiers/host_pinning.h"

#include "engine/cuda/cuda_backend.h"

#ifdef KVLAB_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

namespace kvlab {

std::unique_ptr<HostPinning> HostPinning::Pin(const KvEntry& entry) {
#ifdef KVLAB_HAVE_CUDA
  if (CudaDeviceCount() == 0) return nullptr;
  std::unique_ptr<HostPinning> pinning(new HostPinning());
  for (const std::string& layer : entry.layers) {
    if (layer.size() < kMinPinBytes) continue;
    void* p = const_cast<char*>(layer.data());
    if (cudaHostRegister(p, layer.size(), cudaHostRegisterDefault) == cudaSuccess) {
      pinning->ptrs_.push_back(p);
    } else {
      cudaGetLastError();  // e.g. already registered: leave it pageable
    }
  }
  if (pinning->ptrs_.empty()) return nullptr;
  return pinning;
#else
  (void)entry;
  return nullptr;
#endif
}

HostPinning::~HostPinning() {
#ifdef KVLAB_HAVE_CUDA
  for (void* p : ptrs_) cudaHostUnregister(p);
#endif
}

}  // namespace kvlab
