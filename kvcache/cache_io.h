// Conversion between the engine's live KvCache and a stored KvEntry.
#ifndef KVLAB_KVCACHE_CACHE_IO_H_
#define KVLAB_KVCACHE_CACHE_IO_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "engine/kv_cache.h"
#include "engine/model.h"
#include "kvcache/codec.h"
#include "kvcache/kv_entry.h"

namespace kvlab {

// Serializes every layer of `cache` with `codec` into a sealed entry whose
// header carries the model fingerprint, `method_spec`, the cache's tokens and
// next position, and per-(layer, head) kept counts.
absl::StatusOr<KvEntry> ExportCache(const KvCache& cache, const Model& model, const std::string& method_spec,
                                    const Codec& codec);

// Verifies `entry` (checksums) and that it was made by `model`
// (FAILED_PRECONDITION naming both fingerprints otherwise), then loads it
// into a new KvCache with room for `extra_capacity` more tokens.
absl::StatusOr<std::unique_ptr<KvCache>> ImportEntry(const KvEntry& entry, const Model& model,
                                                     int64_t extra_capacity);

}  // namespace kvlab

#endif  // KVLAB_KVCACHE_CACHE_IO_H_
