// The tiered KV store (GitHub issue 7): a KvStore over a stack of storage
// tiers, fastest first — device (CUDA memory, optional), host (RAM),
// redis (optional), disk (optional).
//
// Placement: a Put goes to the fastest tier the entry fits in; when a tier is
// full its least recently used entries that are neither pinned nor leased are
// demoted to the next tier with room (device -> host -> redis -> disk), or
// dropped when no slower tier takes them. A Get from a slower tier promotes
// the entry to the fastest tier it fits in (volatile tiers move it, persistent
// tiers keep their copy). Every read is verified against the per-layer
// checksums (and, in redis/disk, per-chunk checksums): a mismatch returns
// DATA_LOSS, quarantines the entry and counts a corruption — the entry is
// never served. With a redis or disk tier a new store rebuilds its index from
// the persistent tier, so a restarted kvstore serves what it left there.
//
// Prefix index: content-keyed entries of `full` methods (kv=full) are indexed
// by 256-token blocks (prefix_index.h); Lookup returns the exact entry if
// present, else the entry covering the longest block-aligned prefix.
// Compressed and named entries (sessions) only match exactly / not at all.
#ifndef KVLAB_SERVICES_KVSTORE_TIERED_STORE_H_
#define KVLAB_SERVICES_KVSTORE_TIERED_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/kvstore/kv_store.h"

namespace kvlab {

struct TieredStoreOptions {
  // Bytes of serialized layers the host tier may hold (0: none; everything
  // goes to the slower tiers).
  int64_t host_capacity_bytes = 8ll << 30;
  // Page-lock host entries when a GPU is visible (cudaHostRegister).
  bool pin_host_memory = true;

  // Device tier: 0 = none. Needs a CUDA build and a visible GPU; without
  // them the tier is left out with a warning.
  int64_t device_capacity_bytes = 0;
  int device = 0;

  struct Redis {
    // Server host; empty = no redis tier.
    std::string address;
    int port = 6379;
    // Entry lifetime in Redis in seconds; 0 = no expiry.
    int64_t ttl_s = 0;
    int pool_size = 4;
    int64_t chunk_bytes = 64ll << 20;
    std::string key_prefix = "kvlab";
    // Bytes the store may keep in Redis; 0 = unlimited (Redis' own
    // maxmemory applies).
    int64_t capacity_bytes = 0;
    int connect_timeout_ms = 2000;
    int command_timeout_ms = 5000;  // a stalled server costs this once per cooldown
  } redis;

  struct Disk {
    // Directory; empty = no disk tier.
    std::string dir;
    // 0 = unlimited.
    int64_t capacity_bytes = 0;
    bool fsync = true;
  } disk;

  // Also write every Put through to the first persistent tier (redis, else
  // disk), so that everything survives a restart, not only what was demoted.
  bool write_through = false;

  // Wall clock in Unix milliseconds (tests inject a fake one to expire
  // leases); default: the system clock.
  std::function<int64_t()> clock_ms;
};

// Counters of one tier since the store was created.
struct TierStats {
  std::string name;
  int64_t capacity_bytes = 0;  // 0 = unlimited (persistent tiers)
  int64_t used_bytes = 0;
  int64_t entries = 0;
  int64_t hits = 0;         // Gets served by this tier
  int64_t misses = 0;       // Gets that looked here and did not find the entry
  int64_t evictions = 0;    // copies removed from this tier to make room
  int64_t demotions = 0;    // evictions that moved the entry to a slower tier
  int64_t promotions = 0;   // entries copied into this tier from a slower one on read
  int64_t corruptions = 0;  // checksum failures detected reading this tier
};

struct QuarantinedEntry {
  std::string id;
  std::string tier;    // where the corruption was found
  std::string reason;  // the DATA_LOSS message
  int64_t unix_ms = 0;
};

// All methods are thread-safe. Get returns shared immutable snapshots (no
// payload copy from the host tier).
class TieredKvStore : public KvStore {
 public:
  // Pins `id`: it is never evicted nor demoted from its tier until Unpin.
  // NOT_FOUND for an unknown id.
  virtual absl::Status Pin(const std::string& id) = 0;
  // NOT_FOUND for an unknown id; OK if it was not pinned.
  virtual absl::Status Unpin(const std::string& id) = 0;

  // Leases `id` for `ttl_ms` milliseconds (> 0): while the lease is live the
  // entry is neither evicted nor deletable. Returns the lease id (never 0).
  // NOT_FOUND for an unknown id, INVALID_ARGUMENT for ttl_ms <= 0.
  virtual absl::StatusOr<uint64_t> Lease(const std::string& id, int64_t ttl_ms) = 0;
  // Ends a lease early. NOT_FOUND when unknown or already expired.
  virtual absl::Status Release(uint64_t lease_id) = 0;

  // Per-tier usage and counters, fastest tier first.
  virtual std::vector<TierStats> Tiers() = 0;

  // Reads `id` from every tier holding a copy and checks all checksums.
  // DATA_LOSS (and the entry is quarantined) on a mismatch; NOT_FOUND for an
  // unknown id; tier I/O errors as returned by the tier.
  virtual absl::Status Verify(const std::string& id) = 0;

  // Entries set aside after a checksum failure, oldest first.
  virtual std::vector<QuarantinedEntry> Quarantined() = 0;

  // Delete (KvStore) additionally returns FAILED_PRECONDITION for a pinned
  // entry or one with a live lease.
};

// Builds the tiers named by `options` and, for persistent tiers, rebuilds the
// index from what they hold. INVALID_ARGUMENT for inconsistent options;
// UNAVAILABLE when the redis server cannot be reached; disk errors as
// INTERNAL / PERMISSION_DENIED.
absl::StatusOr<std::unique_ptr<TieredKvStore>> NewTieredKvStore(const TieredStoreOptions& options);

}  // namespace kvlab

#endif  // KVLAB_SERVICES_KVSTORE_TIERED_STORE_H_
