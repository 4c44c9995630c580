#include "kvcache/quant_group.h"

#include <cmath>

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

}  // namespace kvlab
