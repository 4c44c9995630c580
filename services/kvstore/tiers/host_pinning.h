// Page-locking ("pinning") of host-tier entries so that copies to a GPU run
// at full speed without a staging copy. Pinning registers the entry's
// existing layer buffers with cudaHostRegister instead of copying them into a
// cudaHostAlloc buffer, so a Put into the host tier stays zero-copy.
#ifndef KVLAB_SERVICES_KVSTORE_TIERS_HOST_PINNING_H_
#define KVLAB_SERVICES_KVSTORE_TIERS_HOST_PINNING_H_

#include <memory>
#include <vector>

#include "kvcache/kv_entry.h"

namespace kvlab {

// RAII: the layers registered by Pin stay page-locked until destruction.
// The pinned entry must outlive this object. Not copyable.
class HostPinning {
 public:
  // Layers smaller than this are not worth a registration.
  static constexpr size_t kMinPinBytes = 1 << 20;

  // Pins the large layers of `entry`. nullptr when nothing was pinned: the
  // build has no CUDA, no GPU is visible, or registration failed (pinning
  // is an optimization and never an error).
  static std::unique_ptr<HostPinning> Pin(const KvEntry& entry);

  ~HostPinning();
  HostPinning(const HostPinning&) = delete;
  HostPinning& operator=(const HostPinning&) = delete;

  size_t pinned_buffers() const { return ptrs_.size(); }

 private:
  HostPinning() = default;
  std::vector<void*> ptrs_;
};

}  // namespace kvlab

#endif  // KVLAB_SERVICES_KVSTORE_TIERS_HOST_PINNING_H_
