#include "services/kvstore/tiers/cuda_device.h"

#ifdef KVLAB_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

namespace kvlab {

int CudaDeviceCount() {
#ifdef KVLAB_HAVE_CUDA
  static const int count = [] {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
      cudaGetLastError();  // clear the sticky error of a missing driver
      return 0;
    }
    return n;
  }();
  return count;
#else
  return 0;
#endif
}

}  // namespace kvlab
