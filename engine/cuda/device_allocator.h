// Internal: a caching allocator of device memory for one CUDA backend.
#ifndef KVLAB_ENGINE_CUDA_DEVICE_ALLOCATOR_H_
#define KVLAB_ENGINE_CUDA_DEVICE_ALLOCATOR_H_

#include <cstddef>
#include <cstdint>
#include <map>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace kvlab::cuda {

// Hands out device blocks and keeps freed ones for reuse, so that ops never
// call cudaMalloc in steady state. Sizes are rounded up (512 B granules below
// 1 MiB, 2 MiB granules above) and a request takes the smallest cached block
// that fits without wasting more than a quarter of it. Reuse is safe without
// events because every user of the memory works on the backend's single
// stream: a block freed after enqueuing work is reused only by work enqueued
// later. When cudaMalloc fails, the cache is released and the allocation
// retried once. Thread-safe.
class DeviceAllocator {
 public:
  explicit DeviceAllocator(int device) : device_(device) {}
  ~DeviceAllocator();  // frees the cached blocks (live blocks must be freed first)
  DeviceAllocator(const DeviceAllocator&) = delete;
  DeviceAllocator& operator=(const DeviceAllocator&) = delete;

  // A block of at least `bytes` (rounded) on the device. RESOURCE_EXHAUSTED
  // when the device has no room even after releasing the cache.
  absl::StatusOr<void*> Allocate(size_t bytes, size_t* rounded);
  // Returns a block from Allocate (with its rounded size) to the cache.
  void Free(void* p, size_t rounded);
  // Frees every cached block (cudaFree synchronizes the device).
  void ReleaseCache();

  int device() const { return device_; }
  // Bytes handed out and not yet freed; the most ever at once.
  int64_t live_bytes() const;
  int64_t peak_bytes() const;

 private:
  void ReleaseCacheLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int device_;
  mutable absl::Mutex mu_;
  std::multimap<size_t, void*> cached_ ABSL_GUARDED_BY(mu_);
  int64_t live_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t peak_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace kvlab::cuda

#endif  // KVLAB_ENGINE_CUDA_DEVICE_ALLOCATOR_H_
