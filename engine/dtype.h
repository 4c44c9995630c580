// Element types of tensors on disk and in memory.
#ifndef KVLAB_ENGINE_DTYPE_H_
#define KVLAB_ENGINE_DTYPE_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace kvlab {

enum class DType { kF32, kF16, kBF16 };

// Bytes per element.
size_t DTypeSize(DType dtype);
// The safetensors spelling: "F32", "F16", "BF16".
std::string_view DTypeName(DType dtype);
// Parses the safetensors spelling; nullopt for anything else.
std::optional<DType> ParseDType(std::string_view name);

// IEEE half / bfloat16 conversions (round-to-nearest-even on the way down).
float HalfToFloat(uint16_t h);
uint16_t FloatToHalf(float f);
inline float BF16ToFloat(uint16_t b) {
  uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}
uint16_t FloatToBF16(float f);

// Converts `n` elements stored as `dtype` at `src` (any alignment,
// little-endian) into f32 at `dst`.
void ConvertToF32(DType dtype, const void* src, size_t n, float* dst);
// Converts `n` f32 values at `src` into `dtype` at `dst` (any alignment,
// little-endian), rounding as FloatToHalf / FloatToBF16 do.
void ConvertFromF32(DType dtype, const float* src, size_t n, void* dst);

}  // namespace kvlab

#endif  // KVLAB_ENGINE_DTYPE_H_
