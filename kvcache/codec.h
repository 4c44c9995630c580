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
};

// Parses a canonical codec name. INVALID_ARGUMENT for an unknown codec.
absl::StatusOr<std::unique_ptr<Codec>> MakeCodec(std::string_view name);

}  // namespace kvlab

#endif  // KVLAB_KVCACHE_CODEC_H_
