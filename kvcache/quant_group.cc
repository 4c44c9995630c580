#include "kvcache/quant_group.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/dtype.h"

namespace kvlab {
namespace {

// The largest f16 <= x.
uint16_t HalfDown(float x) {
  uint16_t h = FloatToHalf(x);
  if (HalfToFloat(h) <= x) return h;
  if (h == 0x0000) return 0x8001;        // +0 -> smallest negative subnormal
  if (h & 0x8000) return h + 1;          // negative: larger magnitude
  return h - 1;                          // positive: smaller magnitude
}

// The smallest f16 >= x (x >= 0).
uint16_t HalfUp(float x) {
  uint16_t h = FloatToHalf(x);
  if (HalfToFloat(h) >= x) return h;
  if ((h & 0x7fff) == 0) return 0x0001;  // +-0 -> smallest positive subnormal
  if (h & 0x8000) return h - 1;
  return h + 1;
}

}  // namespace

QuantParams ChooseQuantParams(float lo, float hi, int bits) {
  QuantParams p;
  p.min = HalfDown(lo);
  const float range = hi - HalfToFloat(p.min);
  const float levels = static_cast<float>((1u << bits) - 1);
  // Round the step up so that min + levels * scale >= hi despite rounding.
  float need = range / levels;
  if (need > 0) {
    uint16_t s = HalfUp(need);
    while (HalfToFloat(p.min) + levels * HalfToFloat(s) < hi && (s & 0x7c00) != 0x7c00) ++s;
    p.scale = s;
  }
  return p;
}

uint32_t QuantizeValue(float x, float scale, float min, int bits) {
  if (scale <= 0) return 0;
  const float t = std::nearbyint((x - min) / scale);
  const float top = static_cast<float>((1u << bits) - 1);
  if (!(t > 0)) return 0;
  if (t >= top) return static_cast<uint32_t>(top);
  return static_cast<uint32_t>(t);
}

void QuantizeGroup(const float* x, int64_t count, int bits, char* params, char* codes, int64_t first_code) {
  float lo = x[0], hi = x[0];
  for (int64_t i = 1; i < count; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
  }
  const QuantParams q = ChooseQuantParams(lo, hi, bits);
  std::memcpy(params, &q.scale, 2);
  std::memcpy(params + 2, &q.min, 2);
  const float scale = HalfToFloat(q.scale), mn = HalfToFloat(q.min);
  if (!(scale > 0)) return;  // every code is 0, and the range is zeroed already
  constexpr int64_t kMaxFast = 1024;
  if (count > kMaxFast || (first_code * bits) % 8 != 0 || (count * bits) % 8 != 0) {
    for (int64_t i = 0; i < count; ++i) PutCode(codes, first_code + i, QuantizeValue(x[i], scale, mn, bits), bits);
    return;
  }
  // Whole bytes: codes computed in a vectorizable loop, then packed.
  const float top = static_cast<float>((1u << bits) - 1);
  uint8_t code[kMaxFast];
  for (int64_t i = 0; i < count; ++i) {
    float t = std::nearbyint((x[i] - mn) / scale);
    t = t > 0.0f ? t : 0.0f;  // NaN -> 0, as QuantizeValue
    t = t < top ? t : top;
    code[i] = static_cast<uint8_t>(t);
  }
  const int per_byte = 8 / bits;
  uint8_t* out = reinterpret_cast<uint8_t*>(codes) + first_code * bits / 8;
  for (int64_t j = 0; j < count / per_byte; ++j) {
    uint32_t b = 0;
    for (int s = 0; s < per_byte; ++s) b |= static_cast<uint32_t>(code[j * per_byte + s]) << (s * bits);
    out[j] = static_cast<uint8_t>(b);
  }
}

}  // namespace kvlab
