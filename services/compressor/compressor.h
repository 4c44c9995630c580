// The compressor interface: applies a method's KV policy to a full entry.
#ifndef KVLAB_SERVICES_COMPRESSOR_COMPRESSOR_H_
#define KVLAB_SERVICES_COMPRESSOR_COMPRESSOR_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kvcache/kv_entry.h"
#include "kvlab/v1/common.pb.h"

namespace kvlab {

// A full (uncompressed) entry and what prefill observed (DESIGN §4).
struct CompressInput {
  KvEntry entry;
  std::vector<v1::LayerObservation> observations;
};

// Thread-safe.
class Compressor {
 public:
  virtual ~Compressor() = default;
  // Applies the KV policy of `method_spec` to input.entry and returns the
  // compressed, sealed entry (header.method_spec = the canonical spec).
  // INVALID_ARGUMENT for a malformed spec or one whose parameters do not fit
  // the entry; DATA_LOSS when the input fails its checksums.
  virtual absl::StatusOr<KvEntry> Compress(CompressInput input, const std::string& method_spec) = 0;
};

std::unique_ptr<Compressor> NewLocalCompressor();

}  // namespace kvlab

#endif  // KVLAB_SERVICES_COMPRESSOR_COMPRESSOR_H_
