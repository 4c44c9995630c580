#include "services/kvstore/tiers/host_tier.h"

#include "absl/strings/str_cat.h"

namespace kvlab {

HostTier::HostTier(const HostTierOptions& options) : options_(options) {}

absl::Status HostTier::Put(const std::string& id, std::shared_ptr<const KvEntry> entry) {
  Slot slot;
  if (options_.pin_memory) slot.pinning = HostPinning::Pin(*entry);
  slot.entry = std::move(entry);
  Slot old;  // released outside the lock
  {
    std::lock_guard<std::mutex> lock(mu_);
    Slot& s = slots_[id];
    old = std::move(s);
    s = std::move(slot);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const KvEntry>> HostTier::Get(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = slots_.find(id);
  if (it == slots_.end()) return absl::NotFoundError(absl::StrCat("host tier has no entry '", id, "'"));
  return it->second.entry;
}

absl::Status HostTier::Delete(const std::string& id) {
  Slot old;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = slots_.find(id);
    if (it == slots_.end()) return absl::OkStatus();
    old = std::move(it->second);
    slots_.erase(it);
  }
  return absl::OkStatus();
}

absl::Status HostTier::Quarantine(const std::string& id) { return Delete(id); }

absl::StatusOr<std::vector<TierListing>> HostTier::List() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<TierListing> out;
  out.reserve(slots_.size());
  for (const auto& [id, slot] : slots_) {
    out.push_back(TierListing{id, slot.entry->header, slot.entry->payload_bytes()});
  }
  return out;
}

}  // namespace kvlab
