// Small vectorizable math kernels shared by the CPU backend.
#ifndef KVLAB_ENGINE_CPU_VEC_MATH_H_
#define KVLAB_ENGINE_CPU_VEC_MATH_H_

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace kvlab::cpu {

// exp(x) for finite x, relative error < 2e-7, branch-free so that loops over
// it vectorize. Inputs below -87 return 0.
inline float FastExp(float x) {
  const float kLog2e = 1.44269504088896341f;
  const float kLn2Hi = 0.693359375f;
  const float kLn2Lo = -2.12194440e-4f;
  bool underflow = x < -87.0f;
  x = x > 88.0f ? 88.0f : (x < -87.0f ? -87.0f : x);
  float n = std::nearbyint(x * kLog2e);
  float r = x - n * kLn2Hi;
  r = r - n * kLn2Lo;
  // Minimax polynomial for e^r on [-ln2/2, ln2/2] (Cephes expf coefficients).
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return underflow ? 0.0f : p * scale;
}

inline float Silu(float x) { return x / (1.0f + FastExp(-x)); }

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

}  // namespace kvlab::cpu

#endif  // KVLAB_ENGINE_CPU_VEC_MATH_H_
