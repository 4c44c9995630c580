#include "kvcache/kv_entry.h"

#include <algorithm>

#include <xxhash.h>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace kvlab {

int64_t KvEntry::payload_bytes() const {
  int64_t n = 0;
  for (const std::string& l : layers) n += static_cast<int64_t>(l.size());
  return n;
}

uint64_t LayerChecksum(std::string_view bytes) { return XXH3_64bits(bytes.data(), bytes.size()); }

void SealEntry(KvEntry& entry) {
  entry.header.clear_layer_checksums();
  entry.header.clear_layer_bytes();
  for (const std::string& l : entry.layers) {
    entry.header.add_layer_checksums(LayerChecksum(l));
    entry.header.add_layer_bytes(static_cast<int64_t>(l.size()));
  }
}

absl::Status LayerChecksumMismatch(int64_t layer) {
  return absl::DataLossError(absl::StrCat("KV entry layer ", layer, " does not match its checksum"));
}

absl::Status VerifyEntry(const KvEntry& entry, int64_t first_layer) {
  const v1::KvEntryHeader& h = entry.header;
  if (h.format_version() != kKvEntryFormatVersion) {
    return absl::InvalidArgumentError(absl::StrCat("KV entry format version ", h.format_version(),
                                                   " is not supported (expected ", kKvEntryFormatVersion, ")"));
  }
  const int64_t layers = static_cast<int64_t>(entry.layers.size());
  if (h.num_layers() != layers || h.layer_checksums_size() != layers || h.layer_bytes_size() != layers) {
    return absl::InvalidArgumentError(absl::StrCat("KV entry header describes ", h.num_layers(),
                                                   " layers with ", h.layer_checksums_size(),
                                                   " checksums but the entry holds ", layers));
  }
  if (h.kept_size() != h.num_layers() * h.num_kv_heads()) {
    return absl::InvalidArgumentError("KV entry header: kept counts do not cover every layer and head");
  }
  for (int64_t l = std::max<int64_t>(first_layer, 0); l < layers; ++l) {
    if (static_cast<int64_t>(entry.layers[l].size()) != h.layer_bytes(l) ||
        LayerChecksum(entry.layers[l]) != h.layer_checksums(l)) {
      return LayerChecksumMismatch(l);
    }
  }
  return absl::OkStatus();
}

int64_t FullF16Bytes(const v1::KvEntryHeader& h) {
  return h.num_layers() * h.num_kv_heads() * h.head_dim() * 2 * 2 * static_cast<int64_t>(h.tokens_size());
}

}  // namespace kvlab
