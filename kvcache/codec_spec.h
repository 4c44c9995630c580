// Shape checks of codecs that only the model's dimensions can settle.
#ifndef KVLAB_KVCACHE_CODEC_SPEC_H_
#define KVLAB_KVCACHE_CODEC_SPEC_H_

#include <cstdint>
#include <string_view>

#include "absl/status/status.h"

namespace kvlab {

// OK when codec `name` (as accepted by MakeCodec) can encode heads of
// `head_dim`; INVALID_ARGUMENT naming both when a quantizer's channel group
// does not divide head_dim, or when the name itself is invalid.
absl::Status CheckCodecFits(std::string_view name, int64_t head_dim);

}  // namespace kvlab

#endif  // KVLAB_KVCACHE_CODEC_SPEC_H_
