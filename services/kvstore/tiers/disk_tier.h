// The disk tier: one file per entry in a directory.
//
// File `<dir>/<id>.kv`: "KVLABDF1", u64 manifest length, the manifest
// (manifest.h: header, chunk sizes and xxh3-64 checksums), then the payload
// chunks in order. A Put writes `<dir>/.<id>.<gen>.tmp`, fsyncs it, renames
// it over `<id>.kv` and fsyncs the directory, so a reader (or a restart)
// sees the old or the new entry, never a torn one. A corrupt entry is
// renamed to `<id>.kv.quarantined`. Left-over temporary files of a crashed
// writer are removed when the tier opens. One store per directory.
#ifndef KVLAB_SERVICES_KVSTORE_TIERS_DISK_TIER_H_
#define KVLAB_SERVICES_KVSTORE_TIERS_DISK_TIER_H_

#include <atomic>
#include <memory>
#include <string>

#include "services/kvstore/tiers/tier.h"

namespace kvlab {

struct DiskTierOptions {
  std::string dir;
  int64_t chunk_bytes = 64ll << 20;
  // fsync files and the directory on every Put (off only for benchmarks).
  bool fsync = true;
};

// Thread-safe.
class DiskTier : public Tier {
 public:
  // Creates `dir` if needed and removes stale temporary files.
  // INVALID_ARGUMENT for an empty dir; INTERNAL / PERMISSION_DENIED when it
  // cannot be created or listed.
  static absl::StatusOr<std::unique_ptr<DiskTier>> Create(const DiskTierOptions& options);

  const std::string& name() const override { return name_; }
  bool persistent() const override { return true; }
  absl::Status Put(const std::string& id, std::shared_ptr<const KvEntry> entry) override;
  absl::StatusOr<std::shared_ptr<const KvEntry>> Get(const std::string& id) override;
  absl::Status Delete(const std::string& id) override;
  absl::Status Quarantine(const std::string& id) override;
  absl::StatusOr<std::vector<TierListing>> List() override;

  // Path of the file holding `id` (for tests and tools).
  std::string PathOf(const std::string& id) const;

 private:
  explicit DiskTier(const DiskTierOptions& options) : options_(options) {}

  const std::string name_ = "disk";
  const DiskTierOptions options_;
  std::atomic<uint64_t> generation_{0};
};

}  // namespace kvlab

#endif  // KVLAB_SERVICES_KVSTORE_TIERS_DISK_TIER_H_
