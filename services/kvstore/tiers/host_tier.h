// The host-memory tier: entries kept as shared immutable KvEntry objects, so
// Put and Get never copy payload bytes. With CUDA and a visible GPU the
// layers are page-locked (see host_pinning.h).
#ifndef KVLAB_SERVICES_KVSTORE_TIERS_HOST_TIER_H_
#define KVLAB_SERVICES_KVSTORE_TIERS_HOST_TIER_H_

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "services/kvstore/tiers/host_pinning.h"
#include "services/kvstore/tiers/tier.h"

namespace kvlab {

struct HostTierOptions {
  // Page-lock large layers when a GPU is visible (no effect otherwise).
  bool pin_memory = true;
};

// Thread-safe. Get returns the very object given to Put (no verification:
// the store verifies every read).
class HostTier : public Tier {
 public:
  explicit HostTier(const HostTierOptions& options = {});

  const std::string& name() const override { return name_; }
  bool persistent() const override { return false; }
  absl::Status Put(const std::string& id, std::shared_ptr<const KvEntry> entry) override;
  absl::StatusOr<std::shared_ptr<const KvEntry>> Get(const std::string& id) override;
  absl::Status Delete(const std::string& id) override;
  absl::Status Quarantine(const std::string& id) override;
  absl::StatusOr<std::vector<TierListing>> List() override;

 private:
  struct Slot {
    std::shared_ptr<const KvEntry> entry;
    std::unique_ptr<HostPinning> pinning;  // destroyed before `entry`
  };

  const std::string name_ = "host";
  const HostTierOptions options_;
  std::mutex mu_;
  std::unordered_map<std::string, Slot> slots_;
};

}  // namespace kvlab

#endif  // KVLAB_SERVICES_KVSTORE_TIERS_HOST_TIER_H_
