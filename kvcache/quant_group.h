// Asymmetric min-max group quantization shared by the quantizing codecs
// (KIVI, FlexGen): codes of 2 or 4 bits packed little-end-first into bytes,
// one f16 scale and one f16 minimum per group.
#ifndef KVLAB_KVCACHE_QUANT_GROUP_H_
#define KVLAB_KVCACHE_QUANT_GROUP_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace kvlab {

// The f16 parameters of one group. They are chosen so that the group's range
// is covered exactly by the stored (rounded) values: min is rounded down to
// f16 and scale rounded up, hence every element dequantizes to within half a
// step (scale / 2) of its original value. Values must be finite and of
// magnitude below ~30000 (f16 range).
struct QuantParams {
  uint16_t scale = 0;  // f16 bits
  uint16_t min = 0;    // f16 bits
};

// Chooses the parameters for a group with minimum `lo` and maximum `hi`.
QuantParams ChooseQuantParams(float lo, float hi, int bits);

// Code of `x` under (scale, min): round((x - min) / scale) clamped to
// [0, 2^bits - 1]; 0 when scale is 0.
uint32_t QuantizeValue(float x, float scale, float min, int bits);

// Bytes of `count` codes of `bits` bits.
inline int64_t PackedBytes(int64_t count, int bits) { return (count * bits + 7) / 8; }

// Writes codes into a zero-initialized byte range, code i at bits
// [i * bits, (i + 1) * bits) (bits divides 8, so codes never straddle bytes).
inline void PutCode(char* base, int64_t i, uint32_t code, int bits) {
  const int64_t bit = i * bits;
  base[bit >> 3] = static_cast<char>(static_cast<uint8_t>(base[bit >> 3]) | (code << (bit & 7)));
}
inline uint32_t GetCode(const char* base, int64_t i, int bits) {
  const int64_t bit = i * bits;
  return (static_cast<uint8_t>(base[bit >> 3]) >> (bit & 7)) & ((1u << bits) - 1);
}

// Quantizes the `count` contiguous values at `x` as one group: writes its
// parameters (f16 scale, then f16 min: 4 bytes) at `params` and its codes at
// code indices [first_code, first_code + count) of the zero-initialized code
// range `codes`. Same codes as ChooseQuantParams + QuantizeValue + PutCode.
void QuantizeGroup(const float* x, int64_t count, int bits, char* params, char* codes, int64_t first_code);

}  // namespace kvlab

#endif  // KVLAB_KVCACHE_QUANT_GROUP_H_
