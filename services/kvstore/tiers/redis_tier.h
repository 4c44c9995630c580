// The Redis tier: entries stored in a real Redis server through hiredis.
//
// Key layout (P = key_prefix, default "kvlab"; ids never contain ':'):
//   P:<id>:chunk:<gen>:<n>   payload chunk n (0-based) of generation <gen>
//                            (16 hex digits, unique per write); at most
//                            chunk_bytes (default 64 MiB) of one layer each
//   P:<id>:manifest          the manifest (manifest.h): entry header,
//                            generation, chunk sizes and xxh3-64 checksums
//   P:<id>:quarantined       a manifest set aside after a checksum failure
//                            (its chunks are kept for inspection)
// A Put writes every chunk of a fresh generation first and the manifest last
// (SET ... GET, atomically swapping in the new manifest), then unlinks the
// previous generation's chunks; so a reader never sees a half-written entry,
// and a reader racing a replacement notices the swap (ABORTED) instead of
// mixing generations. Delete removes the manifest first, then the chunks.
// With a TTL the manifest expires after ttl_s and the chunks 60 s later, so
// a visible manifest always has its chunks. List SCANs (never KEYS) for
// P:*:manifest to rebuild the store's index after a restart.
#ifndef KVLAB_SERVICES_KVSTORE_TIERS_REDIS_TIER_H_
#define KVLAB_SERVICES_KVSTORE_TIERS_REDIS_TIER_H_

#include <atomic>
#include <memory>
#include <string>

#include "services/kvstore/tiers/manifest.h"
#include "services/kvstore/tiers/redis_client.h"
#include "services/kvstore/tiers/tier.h"

namespace kvlab {

struct RedisTierOptions {
  RedisOptions connection;
  // Seconds an entry lives in Redis; 0 = no expiry.
  int64_t ttl_s = 0;
  // Largest value written as one chunk.
  int64_t chunk_bytes = 64ll << 20;
  std::string key_prefix = "kvlab";
  // After a call finds the server unreachable or too slow (UNAVAILABLE,
  // DEADLINE_EXCEEDED), calls fail at once for this long instead of each
  // waiting for a connection or a command timeout: a dead or stalled Redis
  // costs the store one timeout per cooldown, not one per call.
  int64_t cooldown_ms = 5000;
};

// Thread-safe (a connection per concurrent call, from the pool). Operations
// that fail on a broken connection are retried once on a fresh one.
class RedisTier : public Tier {
 public:
  // Connects and PINGs the server; when it does not answer, warns and still
  // returns the tier (calls connect on demand and fail with UNAVAILABLE until
  // it is back). INVALID_ARGUMENT for bad options.
  static absl::StatusOr<std::unique_ptr<RedisTier>> Create(const RedisTierOptions& options);

  const std::string& name() const override { return name_; }
  bool persistent() const override { return true; }
  absl::Status Put(const std::string& id, std::shared_ptr<const KvEntry> entry) override;
  absl::StatusOr<std::shared_ptr<const KvEntry>> Get(const std::string& id) override;
  absl::Status Delete(const std::string& id) override;
  absl::Status Quarantine(const std::string& id) override;
  absl::StatusOr<std::vector<TierListing>> List() override;

  // Key names (for tests and tools).
  std::string ManifestKey(const std::string& id) const;
  std::string ChunkKey(const std::string& id, uint64_t generation, size_t n) const;
  std::string QuarantineKey(const std::string& id) const;

 private:
  explicit RedisTier(const RedisTierOptions& options);

  absl::Status PutOnce(RedisConnection& conn, const std::string& id, const KvEntry& entry);
  absl::StatusOr<std::shared_ptr<const KvEntry>> GetOnce(RedisConnection& conn, const std::string& id);
  absl::Status DeleteOnce(RedisConnection& conn, const std::string& id);
  absl::StatusOr<std::vector<TierListing>> ListOnce(RedisConnection& conn);
  // Unlinks the chunk keys of `manifest` (best effort).
  void UnlinkChunks(RedisConnection& conn, const std::string& id, const Manifest& manifest);
  uint64_t NextGeneration();

  const std::string name_ = "redis";
  // Runs fn on a pooled connection, retrying once on a fresh one when the
  // first broke, and applies the cooldown (RedisTierOptions::cooldown_ms).
  template <typename Fn>
  auto Call(Fn fn) -> decltype(fn(std::declval<RedisConnection&>()));

  const RedisTierOptions options_;
  RedisPool pool_;
  std::atomic<int64_t> skip_until_ms_{0};  // steady-clock ms; 0 = no cooldown
  const uint64_t generation_base_;
  std::atomic<uint64_t> generation_counter_{0};
};

}  // namespace kvlab

#endif  // KVLAB_SERVICES_KVSTORE_TIERS_REDIS_TIER_H_
