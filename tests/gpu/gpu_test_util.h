// Helpers of the gpu-labelled tests: the CPU backend is the reference.
#ifndef KVLAB_TESTS_GPU_GPU_TEST_UTIL_H_
#define KVLAB_TESTS_GPU_GPU_TEST_UTIL_H_

#include <cmath>
#include <random>
#include <span>
#include <vector>

#include "engine/backend.h"
#include "engine/cuda/cuda_backend.h"
#include "engine/dtype.h"
#include "gtest/gtest.h"

// Skips the calling test, in one line, when no CUDA device is usable.
#define KVLAB_SKIP_WITHOUT_GPU()                                                                        \
  do {                                                                                                  \
    if (::kvlab::CudaDeviceCount() == 0) {                                                              \
      GTEST_SKIP() << "no CUDA device visible (gpu tests run on a GPU host: tools/gpu/check.sh)";      \
    }                                                                                                   \
  } while (0)

namespace kvlab::testing {

inline CudaBackendOptions CudaOptions(DType kv, int device = 0) {
  CudaBackendOptions o;
  o.device = device;
  o.kv_dtype = kv;
  return o;
}

inline std::vector<float> RandomVector(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// `v` rounded through `dtype` and back (what a tensor of that type holds).
inline std::vector<float> RoundedTo(DType dtype, std::span<const float> v) {
  std::vector<float> out(v.begin(), v.end());
  if (dtype == DType::kF32) return out;
  std::vector<uint16_t> narrow(v.size());
  ConvertFromF32(dtype, v.data(), v.size(), narrow.data());
  ConvertToF32(dtype, narrow.data(), narrow.size(), out.data());
  return out;
}

// A tensor of `dtype` on `backend` holding `values` (rounded to the dtype).
inline Tensor Make(Backend& backend, DType dtype, std::vector<int64_t> shape, std::span<const float> values) {
  auto t = backend.Allocate(dtype, std::move(shape));
  EXPECT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->num_elements(), static_cast<int64_t>(values.size()));
  if (dtype == DType::kF32) {
    EXPECT_TRUE(backend.Upload(values.data(), *t).ok());
  } else {
    std::vector<uint16_t> narrow(values.size());
    ConvertFromF32(dtype, values.data(), values.size(), narrow.data());
    EXPECT_TRUE(backend.Upload(narrow.data(), *t).ok());
  }
  return *t;
}

// The contents of `t` as f32 on the host.
inline std::vector<float> Fetch(Backend& backend, const Tensor& t) {
  std::vector<float> out(t.num_elements());
  if (t.dtype() == DType::kF32) {
    EXPECT_TRUE(backend.Download(t, out.data()).ok());
  } else {
    std::vector<uint16_t> narrow(out.size());
    EXPECT_TRUE(backend.Download(t, narrow.data()).ok());
    ConvertToF32(t.dtype(), narrow.data(), narrow.size(), out.data());
  }
  return out;
}

// Largest |a - b| / (1 + |b|) (mixed absolute/relative error).
inline float MaxError(std::span<const float> a, std::span<const float> b) {
  EXPECT_EQ(a.size(), b.size());
  float m = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    m = std::max(m, std::fabs(a[i] - b[i]) / (1.0f + std::fabs(b[i])));
  }
  return m;
}

}  // namespace kvlab::testing

#endif  // KVLAB_TESTS_GPU_GPU_TEST_UTIL_H_
