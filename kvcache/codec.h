// Codecs turn one KV head's rows (f32 K and V) into the payload bytes of a
// kvlab.v1.KvHead and back.
#ifndef KVLAB_KVCACHE_CODEC_H_
#define KVLAB_KVCACHE_CODEC_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace kvlab {

// Stateless and thread-safe.
class Codec {
 public:
  virtual ~Codec() = default;
  // Canonical name, stored in the entry header ("f32", "f16", "bf16", ...).
  virtual std::string name() const = 0;
  // Encodes rows of K and V ([rows, head_dim] each, rows = k.size() / head_dim).
  virtual std::string Encode(std::span<const float> k, std::span<const float> v, int64_t head_dim) const = 0;
  // Decodes a payload of `rows` rows. DATA_LOSS when the payload's size does
  // not fit `rows` x `head_dim`.
  virtual absl::Status Decode(std::string_view payload, int64_t rows, int64_t head_dim, std::vector<float>* k,
                              std::vector<float>* v) const = 0;
  // Payload bytes for `rows` rows (exact).
  virtual int64_t EncodedBytes(int64_t rows, int64_t head_dim) const = 0;

  // Decodes only the keys of a `rows`-row payload (what eviction scoring
  // reads). The default decodes both and drops V.
  virtual absl::Status DecodeKeys(std::string_view payload, int64_t rows, int64_t head_dim,
                                  std::vector<float>* k) const;
  // Decodes the rows `select` (ascending indices < rows) of a `rows`-row
  // payload into [select.size(), head_dim] K and V. The default decodes all
  // rows and gathers.
  virtual absl::Status DecodeRows(std::string_view payload, int64_t rows, int64_t head_dim,
                                  std::span<const int32_t> select, std::vector<float>* k,
                                  std::vector<float>* v) const;
  // The payload, in this codec, of the rows `select` of a `rows`-row payload
  // in this codec, when it can be cut out without decoding (dense codecs);
  // false otherwise. DATA_LOSS is reported by Decode*, not here: returns false
  // on a size mismatch.
  virtual bool GatherRows(std::string_view payload, int64_t rows, int64_t head_dim, std::span<const int32_t> select,
                          std::string* out) const {
    return false;
  }
};

// OK when `select` holds ascending row indices in [0, rows); INVALID_ARGUMENT
// otherwise.
absl::Status CheckSelection(std::span<const int32_t> select, int64_t rows);

// Parses a canonical codec name. INVALID_ARGUMENT for an unknown codec.
absl::StatusOr<std::unique_ptr<Codec>> MakeCodec(std::string_view name);

}  // namespace kvlab

#endif  // KVLAB_KVCACHE_CODEC_H_
