// The KV store interface (DESIGN §1): local implementation and gRPC client
// both implement it.
#ifndef KVLAB_SERVICES_KVSTORE_KV_STORE_H_
#define KVLAB_SERVICES_KVSTORE_KV_STORE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "kvcache/kv_entry.h"
#include "kvlab/v1/kvstore.pb.h"

namespace kvlab {

// Thread-safe. Entries are immutable once stored: Get returns a shared
// snapshot that later Puts under the same id do not change.
class KvStore {
 public:
  virtual ~KvStore() = default;

  // Verifies and stores `entry` under its content key (or options.name).
  // DATA_LOSS when a layer fails its checksum; INVALID_ARGUMENT for a
  // malformed entry or name; RESOURCE_EXHAUSTED when it cannot fit.
  virtual absl::StatusOr<v1::PutResponse> Put(KvEntry entry, const v1::PutOptions& options) = 0;
  // The entry `id`, verified against its checksums. NOT_FOUND for an unknown
  // id; DATA_LOSS when the stored bytes are corrupt (never served).
  virtual absl::StatusOr<std::shared_ptr<const KvEntry>> Get(const std::string& id) = 0;
  // Finds the entry for (fingerprint, method, tokens); found=false if none.
  virtual absl::StatusOr<v1::LookupResponse> Lookup(const v1::LookupRequest& request) = 0;
  // NOT_FOUND for an unknown id.
  virtual absl::StatusOr<v1::EntryInfo> Stat(const std::string& id) = 0;
  virtual absl::StatusOr<v1::ListResponse> List(const v1::ListRequest& request) = 0;
  // NOT_FOUND for an unknown id.
  virtual absl::Status Delete(const std::string& id) = 0;
};

struct LocalKvStoreOptions {
  // Bytes of serialized layers the host tier may hold; least recently used
  // entries are evicted beyond it.
  int64_t capacity_bytes = 8ll << 30;
};

// The in-process store (host memory tier).
std::unique_ptr<KvStore> NewLocalKvStore(const LocalKvStoreOptions& options = {});

}  // namespace kvlab

#endif  // KVLAB_SERVICES_KVSTORE_KV_STORE_H_
