// The quantizing codecs (DESIGN §3): KIVI and FlexGen. Both produce payloads
// whose size EncodedBytes gives exactly (codes, scales and minimums included).
#ifndef KVLAB_KVCACHE_QUANT_CODECS_H_
#define KVLAB_KVCACHE_QUANT_CODECS_H_

#include <cstdint>
#include <memory>

#include "kvcache/codec.h"

namespace kvlab {

// KIVI (Liu et al. 2024), name "kivi{bits=B,group=G,residual=R}".
// Of a head's `rows` rows (oldest first), the oldest
//   nq = rows > R ? floor((rows - R) / G) * G : 0
// are quantized and the newest rows - nq (R <= rows - nq < R + G once
// rows > R) stay in 16-bit precision (bf16, as the authors keep the model's
// fp16/bf16 cache): the residual window,
// whose oldest rows get quantized once a whole group of G has aged out of it.
// Keys are quantized per channel over groups of G tokens; values per token
// over groups of G channels (G must divide head_dim). Asymmetric min-max
// with f16 scale and minimum per group (kvcache/quant_group.h).
// Payload: K params [nq/G][head_dim] (scale, min f16), K codes in order
// (group, channel, token), V params [nq][head_dim/G], V codes [token][channel],
// K residual bf16 [rows-nq][head_dim], V residual bf16.
std::unique_ptr<Codec> NewKiviCodec(int bits, int64_t group, int64_t residual);

// FlexGen (Sheng et al. 2023), name "flexgen{bits=B,group=G}": K and V both
// quantized per token over groups of G consecutive channels (G must divide
// head_dim), asymmetric min-max with f16 scale and minimum, no residual.
// Payload: K params [rows][head_dim/G], K codes [row][channel], then V alike.
std::unique_ptr<Codec> NewFlexGenCodec(int bits, int64_t group);

}  // namespace kvlab

#endif  // KVLAB_KVCACHE_QUANT_CODECS_H_
