// The CPU backend's block-wise attention against a naive softmax reference,
// across block boundaries, GQA groups, sliding windows and unequal head lengths.
#include <cmath>
#include <random>

#include "absl/strings/str_cat.h"
#include "engine/backend.h"
#include "gtest/gtest.h"

namespace kvlab {
namespace {

struct Case {
  int64_t n;         // new queries
  int64_t prior;     // rows already cached before them
  int64_t hq, hkv, hd;
  int64_t window;
  bool ragged;       // heads hold different numbers of prior rows
};

std::vector<float> Random(size_t n, std::mt19937& rng) {
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

class CpuAttentionTest : public ::testing::TestWithParam<Case> {};

TEST_P(CpuAttentionTest, MatchesNaiveReference) {
  const Case c = GetParam();
  std::mt19937 rng(42);
  auto backend = NewCpuBackend();
  const int64_t cap = c.prior + c.n + 3;
  std::vector<int64_t> len(c.hkv);
  for (int64_t h = 0; h < c.hkv; ++h) len[h] = (c.ragged ? c.prior - 5 * h : c.prior) + c.n;
  auto q_host = Random(c.n * c.hq * c.hd, rng);
  auto k_host = Random(c.hkv * cap * c.hd, rng);
  auto v_host = Random(c.hkv * cap * c.hd, rng);

  AttentionArgs a;
  a.q = *backend->Allocate(DType::kF32, {c.n, c.hq, c.hd});
  a.k = *backend->Allocate(DType::kF32, {c.hkv, cap, c.hd});
  a.v = *backend->Allocate(DType::kF32, {c.hkv, cap, c.hd});
  a.out = *backend->Allocate(DType::kF32, {c.n, c.hq, c.hd});
  ASSERT_TRUE(backend->Upload(q_host.data(), a.q).ok());
  ASSERT_TRUE(backend->Upload(k_host.data(), a.k).ok());
  ASSERT_TRUE(backend->Upload(v_host.data(), a.v).ok());
  a.kv_len = len;
  a.scale = 1.0f / std::sqrt(static_cast<float>(c.hd));
  a.sliding_window = c.window;
  backend->Attention(a);
  std::vector<float> out(c.n * c.hq * c.hd);
  ASSERT_TRUE(backend->Download(a.out, out.data()).ok());

  const int64_t group = c.hq / c.hkv;
  double max_err = 0;
  for (int64_t i = 0; i < c.n; ++i) {
    for (int64_t h = 0; h < c.hq; ++h) {
      const int64_t kvh = h / group;
      const int64_t row = len[kvh] - c.n + i;
      std::vector<double> s(row + 1, -INFINITY);
      double mx = -INFINITY;
      for (int64_t j = 0; j <= row; ++j) {
        if (c.window > 0 && row - j >= c.window) continue;
        double dot = 0;
        for (int64_t d = 0; d < c.hd; ++d) {
          dot += q_host[(i * c.hq + h) * c.hd + d] * k_host[(kvh * cap + j) * c.hd + d];
        }
        s[j] = dot * a.scale;
        mx = std::max(mx, s[j]);
      }
      double sum = 0;
      for (double& x : s) sum += (x = std::exp(x - mx));
      for (int64_t d = 0; d < c.hd; ++d) {
        double acc = 0;
        for (int64_t j = 0; j <= row; ++j) acc += s[j] / sum * v_host[(kvh * cap + j) * c.hd + d];
        max_err = std::max(max_err, std::fabs(acc - out[(i * c.hq + h) * c.hd + d]));
      }
    }
  }
  EXPECT_LT(max_err, 1e-5);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, CpuAttentionTest,
    ::testing::Values(Case{1, 0, 4, 2, 16, 0, false},        // first token
                      Case{70, 0, 4, 2, 16, 0, false},       // crosses a query block
                      Case{300, 0, 6, 2, 32, 0, false},      // crosses a key block
                      Case{1, 600, 8, 2, 16, 0, false},      // decode over a long cache
                      Case{37, 530, 4, 4, 8, 0, false},      // chunk after a prefix, MHA
                      Case{130, 300, 4, 2, 16, 100, false},  // sliding window
                      Case{1, 700, 4, 2, 16, 257, false},    // window in decode
                      Case{9, 400, 6, 3, 16, 0, true}),      // per-head lengths differ
    [](const ::testing::TestParamInfo<Case>& info) {
      const Case& c = info.param;
      return absl::StrCat("n", c.n, "_prior", c.prior, "_hq", c.hq, "_hkv", c.hkv, "_hd", c.hd,
                          "_win", c.window, c.ragged ? "_ragged" : "");
    });

}  // namespace
}  // namespace kvlab
