// A KV cache entry as stored and transferred (DESIGN §6): a header and one
// serialized kvlab.v1.KvLayer per layer, each covered by a checksum.
#ifndef KVLAB_KVCACHE_KV_ENTRY_H_
#define KVLAB_KVCACHE_KV_ENTRY_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "kvlab/v1/common.pb.h"

namespace kvlab {

inline constexpr uint32_t kKvEntryFormatVersion = 2;  // 2: KIVI residual in bf16

struct KvEntry {
  v1::KvEntryHeader header;
  // Serialized kvlab.v1.KvLayer messages, one per layer.
  std::vector<std::string> layers;

  // Bytes of all serialized layers.
  int64_t payload_bytes() const;
};

// xxh3-64 of a serialized layer.
uint64_t LayerChecksum(std::string_view bytes);

// Fills header.layer_checksums and header.layer_bytes from `layers`.
void SealEntry(KvEntry& entry);

// Checks the header's shape fields against the layers and every layer
// against its checksum. DATA_LOSS naming the layer on a mismatch;
// INVALID_ARGUMENT for an inconsistent header (format version, counts).
// Layers before `first_layer` are skipped: the caller has checked them (a
// stream receiver hashes each layer as it arrives, see EntryAssembler).
absl::Status VerifyEntry(const KvEntry& entry, int64_t first_layer = 0);

// The DATA_LOSS error for layer `layer` not matching its checksum.
absl::Status LayerChecksumMismatch(int64_t layer);

// Bytes the entry's rows would take as uncompressed f16 K and V: the
// denominator-free reference of the compression ratio.
int64_t FullF16Bytes(const v1::KvEntryHeader& header);

}  // namespace kvlab

#endif  // KVLAB_KVCACHE_KV_ENTRY_H_
