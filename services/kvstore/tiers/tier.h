// The storage-tier backend interface of the tiered KV store (GitHub issue 7):
// each tier (device, host, redis, disk) stores whole entries by id and knows
// nothing about capacity, LRU order, leases or the prefix index, which the
// TieredKvStore keeps. Each backend is testable on its own.
#ifndef KVLAB_SERVICES_KVSTORE_TIERS_TIER_H_
#define KVLAB_SERVICES_KVSTORE_TIERS_TIER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kvcache/kv_entry.h"

namespace kvlab {

// What a persistent tier reports about an entry it holds, read from its
// manifest without touching the payload.
struct TierListing {
  std::string id;
  v1::KvEntryHeader header;
  int64_t bytes = 0;  // serialized layer bytes
};

// A storage tier. Implementations are thread-safe: concurrent calls on
// different or the same ids are allowed, and a Get never observes a partially
// written entry (it sees the old or the new entry of a concurrent Put).
class Tier {
 public:
  virtual ~Tier() = default;

  // "device", "host", "redis" or "disk".
  virtual const std::string& name() const = 0;
  // Whether entries survive a restart of the process (redis, disk).
  virtual bool persistent() const = 0;

  // Stores `entry` under `id`, atomically replacing an entry of that id. The
  // tier may keep `entry` itself (host) or copy its bytes. UNAVAILABLE /
  // DEADLINE_EXCEEDED when the backend is unreachable, RESOURCE_EXHAUSTED when
  // it is out of memory, INTERNAL for other I/O failures.
  virtual absl::Status Put(const std::string& id, std::shared_ptr<const KvEntry> entry) = 0;

  // The entry `id`. Tiers that copy bytes verify every chunk against the
  // checksum written with it: DATA_LOSS on a mismatch or a missing chunk.
  // NOT_FOUND for an unknown id; ABORTED when the entry was replaced or
  // deleted while it was being read (the caller may retry).
  virtual absl::StatusOr<std::shared_ptr<const KvEntry>> Get(const std::string& id) = 0;

  // Removes the entry `id`; OK when it is absent.
  virtual absl::Status Delete(const std::string& id) = 0;

  // Sets the corrupt entry `id` aside: it is no longer served or listed, but
  // persistent tiers keep its bytes for inspection (renamed). OK when absent.
  virtual absl::Status Quarantine(const std::string& id) = 0;

  // Every entry the tier holds (persistent tiers: read from their manifests,
  // used to rebuild the store's index after a restart). Entries whose
  // manifest is unreadable are skipped with a warning.
  virtual absl::StatusOr<std::vector<TierListing>> List() = 0;
};

}  // namespace kvlab

#endif  // KVLAB_SERVICES_KVSTORE_TIERS_TIER_H_
