#include "engine/cuda/device_allocator.h"

#include <cuda_runtime_api.h>

#include <algorithm>

#include "engine/cuda/cuda_status.h"

namespace kvlab::cuda {
namespace {

size_t RoundUp(size_t bytes) {
  constexpr size_t kSmall = 512, kLarge = size_t{2} << 20;
  const size_t granule = bytes < (size_t{1} << 20) ? kSmall : kLarge;
  return (std::max<size_t>(bytes, 1) + granule - 1) / granule * granule;
}

}  // namespace

DeviceAllocator::~DeviceAllocator() {
  absl::MutexLock lock(&mu_);
  ReleaseCacheLocked();
}

absl::StatusOr<void*> DeviceAllocator::Allocate(size_t bytes, size_t* rounded) {
  const size_t size = RoundUp(bytes);
  absl::MutexLock lock(&mu_);
  auto it = cached_.lower_bound(size);
  if (it != cached_.end() && it->first - size <= it->first / 4) {
    void* p = it->second;
    *rounded = it->first;
    cached_.erase(it);
    live_ += static_cast<int64_t>(*rounded);
    peak_ = std::max(peak_, live_);
    return p;
  }
  cudaSetDevice(device_);
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, size);
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();  // not sticky: clear it and retry with the cache released
    ReleaseCacheLocked();
    e = cudaMalloc(&p, size);
  }
  if (e != cudaSuccess) {
    cudaGetLastError();
    absl::Status s = CudaStatus(e, "cudaMalloc");
    return absl::Status(s.code(), absl::StrCat(s.message(), " for ", size, " bytes (", live_,
                                               " bytes in use on device ", device_, ")"));
  }
  *rounded = size;
  live_ += static_cast<int64_t>(size);
  peak_ = std::max(peak_, live_);
  return p;
}

void DeviceAllocator::Free(void* p, size_t rounded) {
  absl::MutexLock lock(&mu_);
  live_ -= static_cast<int64_t>(rounded);
  cached_.emplace(rounded, p);
}

void DeviceAllocator::ReleaseCache() {
  absl::MutexLock lock(&mu_);
  ReleaseCacheLocked();
}

void DeviceAllocator::ReleaseCacheLocked() {
  if (cached_.empty()) return;
  cudaSetDevice(device_);
  for (const auto& [size, p] : cached_) cudaFree(p);
  cached_.clear();
}

int64_t DeviceAllocator::live_bytes() const {
  absl::MutexLock lock(&mu_);
  return live_;
}

int64_t DeviceAllocator::peak_bytes() const {
  absl::MutexLock lock(&mu_);
  return peak_;
}

}  // namespace kvlab::cuda
