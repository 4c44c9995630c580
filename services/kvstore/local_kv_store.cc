// NewLocalKvStore: the tiered store with a host tier only (tiered_store.h).
#include "common/check.h"
#include "services/kvstore/kv_store.h"
#include "services/kvstore/tiered_store.h"

namespace kvlab {

std::unique_ptr<KvStore> NewLocalKvStore(const LocalKvStoreOptions& options) {
  TieredStoreOptions tiered;
  tiered.host_capacity_bytes = options.capacity_bytes;
  auto store = NewTieredKvStore(tiered);
  // A host-only store has nothing that can fail to open.
  CHECK(store.ok()) << store.status().message();
  return std::move(*store);
}

}  // namespace kvlab
