// Whether a CUDA device can be used by the store's device tier and host
// pinning. Compiles without CUDA (then no device is ever available).
#ifndef KVLAB_SERVICES_KVSTORE_TIERS_CUDA_DEVICE_H_
#define KVLAB_SERVICES_KVSTORE_TIERS_CUDA_DEVICE_H_

namespace kvlab {

// Number of CUDA devices visible to this process: 0 when the build has no
// CUDA (KVLAB_HAVE_CUDA unset), when no driver is loaded, or when
// cudaGetDeviceCount fails. Thread-safe.
int CudaDeviceCount();

}  // namespace kvlab

#endif  // KVLAB_SERVICES_KVSTORE_TIERS_CUDA_DEVICE_H_
