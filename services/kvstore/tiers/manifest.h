// The manifest of an entry in a persistent tier (redis, disk): the entry
// header plus the list of payload chunks with their sizes and checksums. The
// payload is the entry's serialized layers cut into chunks of at most
// `chunk_bytes` each (a chunk never spans two layers).
//
// Encoding (little-endian), protected by a trailing checksum:
//   "KVLABMF1"                       8-byte magic
//   u64 generation                   distinguishes successive writes of an id
//   u32 header_len, header bytes     serialized v1::KvEntryHeader
//   u32 n_chunks, then per chunk:    u32 layer, u64 size, u64 xxh3-64
//   u64 xxh3-64 of all bytes above
#ifndef KVLAB_SERVICES_KVSTORE_TIERS_MANIFEST_H_
#define KVLAB_SERVICES_KVSTORE_TIERS_MANIFEST_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "kvcache/kv_entry.h"

namespace kvlab {

struct ChunkInfo {
  uint32_t layer = 0;
  uint64_t offset = 0;  // within the layer (not encoded; derived on decode)
  uint64_t size = 0;
  uint64_t checksum = 0;
};

struct Manifest {
  uint64_t generation = 0;
  v1::KvEntryHeader header;
  std::vector<ChunkInfo> chunks;

  // Sum of the chunk sizes.
  int64_t payload_bytes() const;
};

// Cuts `entry`'s layers into chunks of at most `chunk_bytes` (> 0) bytes and
// checksums each. An empty layer gets one empty chunk.
Manifest PlanManifest(const KvEntry& entry, uint64_t generation, int64_t chunk_bytes);

// The bytes of chunk `chunk` of `entry` (a view into the layer).
std::string_view ChunkBytes(const KvEntry& entry, const ChunkInfo& chunk);

std::string EncodeManifest(const Manifest& manifest);

// DATA_LOSS when `bytes` is not a well-formed manifest or fails its checksum,
// or when its chunks do not add up to the header's layer sizes.
absl::StatusOr<Manifest> DecodeManifest(std::string_view bytes);

}  // namespace kvlab

#endif  // KVLAB_SERVICES_KVSTORE_TIERS_MANIFEST_H_
