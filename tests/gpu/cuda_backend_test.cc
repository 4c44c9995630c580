// Every op of the CUDA backend against the CPU backend (the reference) on
// random inputs over a grid of shapes, in the spirit of llama.cpp's
// test-backend-ops. 16-bit tensors are compared with the CPU run on the same
// rounded values, so the tolerances only absorb f32 summation order.
#include <algorithm>
#include <numeric>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/attention_pattern.h"
#include "tests/gpu/gpu_test_util.h"

namespace kvlab {
namespace {

using testing::Fetch;
using testing::Make;
using testing::MaxError;
using testing::RandomVector;
using testing::RoundedTo;

class CudaOpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KVLAB_SKIP_WITHOUT_GPU();
    cpu_ = NewCpuBackend();
    auto gpu = NewCudaBackend({});
    ASSERT_TRUE(gpu.ok()) << gpu.status();
    gpu_ = std::move(*gpu);
  }
  std::unique_ptr<Backend> cpu_, gpu_;
};

TEST_F(CudaOpsTest, EmbedGathersRowsOfEveryTableDtype) {
  const int64_t vocab = 300, d = 96;
  const std::vector<int32_t> ids = {0, 5, 299, 5, 17, 123, 0};
  const auto table = RandomVector(vocab * d, 1);
  for (DType dt : {DType::kF32, DType::kF16, DType::kBF16}) {
    const auto rounded = RoundedTo(dt, table);
    Tensor ct = Make(*cpu_, DType::kF32, {vocab, d}, rounded), gt = Make(*gpu_, dt, {vocab, d}, table);
    Tensor co = *cpu_->Allocate(DType::kF32, {7, d}), go = *gpu_->Allocate(DType::kF32, {7, d});
    cpu_->Embed(ct, ids, co);
    gpu_->Embed(gt, ids, go);
    EXPECT_EQ(Fetch(*gpu_, go), Fetch(*cpu_, co)) << DTypeName(dt);
  }
}

TEST_F(CudaOpsTest, RmsNormAndFusedAddNorm) {
  for (int64_t d : {64, 1000, 4096}) {
    const int64_t n = 9;
    const auto x = RandomVector(n * d, 2), y = RandomVector(n * d, 3), w = RandomVector(d, 4);
    Tensor cx = Make(*cpu_, DType::kF32, {n, d}, x), gx = Make(*gpu_, DType::kF32, {n, d}, x);
    Tensor cy = Make(*cpu_, DType::kF32, {n, d}, y), gy = Make(*gpu_, DType::kF32, {n, d}, y);
    Tensor cw = Make(*cpu_, DType::kF32, {d}, w), gw = Make(*gpu_, DType::kF32, {d}, w);
    Tensor co = *cpu_->Allocate(DType::kF32, {n, d}), go = *gpu_->Allocate(DType::kF32, {n, d});
    cpu_->RmsNorm(cx, cw, 1e-5f, co);
    gpu_->RmsNorm(gx, gw, 1e-5f, go);
    EXPECT_LE(MaxError(Fetch(*gpu_, go), Fetch(*cpu_, co)), 1e-5f) << "d=" << d;
    cpu_->AddRmsNorm(cx, cy, cw, 1e-5f, cy);  // out aliases y, as the model uses it
    gpu_->AddRmsNorm(gx, gy, gw, 1e-5f, gy);
    EXPECT_LE(MaxError(Fetch(*gpu_, gx), Fetch(*cpu_, cx)), 1e-6f) << "sum, d=" << d;
    EXPECT_LE(MaxError(Fetch(*gpu_, gy), Fetch(*cpu_, cy)), 1e-5f) << "norm of sum, d=" << d;
  }
}

TEST_F(CudaOpsTest, LinearInEveryWeightDtypeWithAndWithoutBias) {
  for (DType dt : {DType::kF32, DType::kF16, DType::kBF16}) {
    for (int64_t n : {1, 7, 300}) {
      const int64_t in = 192, out = 320;
      const auto x = RandomVector(n * in, 5), w = RandomVector(out * in, 6, 0.05f), b = RandomVector(out, 7);
      // f32 activations times the weights as stored (the CPU widens them):
      // the GPU must not round x to the weights' 16 bits.
      Tensor cx = Make(*cpu_, DType::kF32, {n, in}, x), gx = Make(*gpu_, DType::kF32, {n, in}, x);
      Tensor cw = Make(*cpu_, DType::kF32, {out, in}, RoundedTo(dt, w)), gw = Make(*gpu_, dt, {out, in}, w);
      Tensor cb = Make(*cpu_, DType::kF32, {out}, b), gb = Make(*gpu_, DType::kF32, {out}, b);
      for (bool bias : {false, true}) {
        Tensor co = *cpu_->Allocate(DType::kF32, {n, out}), go = *gpu_->Allocate(DType::kF32, {n, out});
        cpu_->Linear(cx, cw, bias ? cb : Tensor(), co);
        gpu_->Linear(gx, gw, bias ? gb : Tensor(), go);
        EXPECT_LE(MaxError(Fetch(*gpu_, go), Fetch(*cpu_, co)), 1e-4f)
            << DTypeName(dt) << " n=" << n << " bias=" << bias;
      }
    }
  }
}

TEST_F(CudaOpsTest, RopeTableAndRotation) {
  const int64_t n = 37, heads = 6, hd = 128;
  std::vector<int32_t> positions(n);
  std::iota(positions.begin(), positions.end(), 4000);
  std::vector<float> inv_freq(hd / 2);
  for (int64_t j = 0; j < hd / 2; ++j) inv_freq[j] = std::pow(500000.0f, -2.0f * j / hd);
  Tensor ct = *cpu_->Allocate(DType::kF32, {n, hd / 2, 2}), gt = *gpu_->Allocate(DType::kF32, {n, hd / 2, 2});
  cpu_->RopeTable(positions, inv_freq, ct);
  gpu_->RopeTable(positions, inv_freq, gt);
  EXPECT_EQ(Fetch(*gpu_, gt), Fetch(*cpu_, ct));
  const auto x = RandomVector(n * heads * hd, 8);
  Tensor cx = Make(*cpu_, DType::kF32, {n, heads, hd}, x), gx = Make(*gpu_, DType::kF32, {n, heads, hd}, x);
  cpu_->ApplyRope(cx, ct);
  gpu_->ApplyRope(gx, gt);
  EXPECT_LE(MaxError(Fetch(*gpu_, gx), Fetch(*cpu_, cx)), 1e-6f);
}

TEST_F(CudaOpsTest, SwiGluAndAdd) {
  const int64_t n = 5000;
  const auto g = RandomVector(n, 9, 4.0f), u = RandomVector(n, 10);
  Tensor cg = Make(*cpu_, DType::kF32, {n}, g), gg = Make(*gpu_, DType::kF32, {n}, g);
  Tensor cu = Make(*cpu_, DType::kF32, {n}, u), gu = Make(*gpu_, DType::kF32, {n}, u);
  Tensor co = *cpu_->Allocate(DType::kF32, {n}), go = *gpu_->Allocate(DType::kF32, {n});
  cpu_->SwiGlu(cg, cu, co);
  gpu_->SwiGlu(gg, gu, go);
  EXPECT_LE(MaxError(Fetch(*gpu_, go), Fetch(*cpu_, co)), 1e-6f);
  cpu_->AddInPlace(cg, cu);
  gpu_->AddInPlace(gg, gu);
  EXPECT_EQ(Fetch(*gpu_, gg), Fetch(*cpu_, cg));
}

TEST_F(CudaOpsTest, WriteKvAtRaggedRowsAndCopyRowsOnGrowth) {
  for (DType dt : {DType::kF32, DType::kBF16}) {
    auto gpu = NewCudaBackend(testing::CudaOptions(dt));
    ASSERT_TRUE(gpu.ok());
    Backend& g = **gpu;
    const int64_t heads = 3, cap = 40, hd = 64, n = 5;
    const std::vector<int64_t> row_begin = {0, 7, 35};
    const auto src = RandomVector(n * heads * hd, 11);
    const auto zeros = std::vector<float>(heads * cap * hd, 0.0f);
    Tensor cache = Make(g, dt, {heads, cap, hd}, zeros);
    g.WriteKv(Make(g, DType::kF32, {n, heads, hd}, src), cache, row_begin);
    Tensor grown = Make(g, dt, {heads, cap + 9, hd}, std::vector<float>(heads * (cap + 9) * hd, 0.0f));
    g.CopyKvRows(cache, grown, cap);
    const auto got = Fetch(g, grown);
    const auto want_src = RoundedTo(dt, src);
    for (int64_t h = 0; h < heads; ++h) {
      for (int64_t r = 0; r < cap; ++r) {
        for (int64_t d = 0; d < hd; ++d) {
          const int64_t i = r - row_begin[h];
          const float want = i >= 0 && i < n ? want_src[(i * heads + h) * hd + d] : 0.0f;
          ASSERT_EQ(got[(h * (cap + 9) + r) * hd + d], want) << DTypeName(dt) << " head " << h << " row " << r;
        }
      }
    }
  }
}

// --- attention -------------------------------------------------------------

struct AttentionCase {
  int64_t hd, group, hkv, n, prior;
  DType kv;
  std::string pattern = "dense";
  int64_t window = 0;
  bool mass = false;
  int64_t rows_after = 0;
};

std::string CaseName(const ::testing::TestParamInfo<AttentionCase>& info) {
  const AttentionCase& c = info.param;
  std::string p = c.pattern.substr(0, c.pattern.find('{'));
  return absl::StrCat(p, "_hd", c.hd, "_g", c.group, "_kv", c.hkv, "_n", c.n, "_prior", c.prior, "_",
                      std::string(DTypeName(c.kv)), c.window ? absl::StrCat("_win", c.window) : "", c.mass ? "_mass" : "",
                      c.rows_after ? absl::StrCat("_after", c.rows_after) : "", "_", info.index);
}

std::vector<AttentionCase> AttentionGrid() {
  std::vector<AttentionCase> cases;
  for (int64_t hd : {64, 128}) {
    for (int64_t group : {1, 4, 8}) {
      for (int64_t n : {1, 7, 64, 513}) {
        for (int64_t prior : {0, 300}) {
          cases.push_back({hd, group, 2, n, prior, DType::kBF16});
        }
      }
    }
  }
  cases.push_back({128, 4, 2, 4096, 0, DType::kBF16});
  cases.push_back({128, 4, 2, 7, 4096, DType::kBF16});  // decode-like: split keys
  cases.push_back({128, 8, 1, 1, 20000, DType::kBF16});
  for (DType kv : {DType::kF32, DType::kF16}) cases.push_back({64, 4, 2, 513, 300, kv});
  cases.push_back({64, 4, 2, 513, 300, DType::kBF16, "dense", 50});
  cases.push_back({64, 4, 2, 1, 300, DType::kBF16, "dense", 50});
  cases.push_back({32, 1, 4, 200, 0, DType::kF32});  // the shipped tiny model's shape
  const std::vector<std::string> patterns = {"a_shape{n_init=16,n_local=64}",
                                             "tri_shape{n_init=16,n_local=64,n_last=20}",
                                             "vertical_slash{n_vertical=40,n_slash=60,last_q=16}"};
  for (const std::string& p : patterns) {
    for (int64_t group : {1, 4}) {
      for (bool mass : {false, true}) {
        cases.push_back({128, group, 2, 513, 0, DType::kBF16, p, 0, mass});
        cases.push_back({64, group, 2, 300, 129, DType::kBF16, p, 0, mass});
      }
    }
  }
  cases.push_back({128, 4, 2, 4096, 0, DType::kBF16, "a_shape{n_init=128,n_local=1024}"});
  cases.push_back({64, 4, 2, 200, 0, DType::kBF16, "a_shape{n_init=16,n_local=64}", 100});
  cases.push_back({64, 4, 2, 128, 0, DType::kBF16, "tri_shape{n_init=16,n_local=64,n_last=20}", 0, false, 64});
  cases.push_back({64, 1, 2, 256, 0, DType::kBF16, "dense", 0, true});
  return cases;
}

class CudaAttentionTest : public ::testing::TestWithParam<AttentionCase> {
 protected:
  void SetUp() override { KVLAB_SKIP_WITHOUT_GPU(); }
};

TEST_P(CudaAttentionTest, MatchesCpuOutputsStatsAndMass) {
  const AttentionCase& c = GetParam();
  auto cpu = NewCpuBackend();
  auto gpu_or = NewCudaBackend(testing::CudaOptions(c.kv));
  ASSERT_TRUE(gpu_or.ok()) << gpu_or.status();
  Backend& gpu = **gpu_or;
  const int64_t hq = c.hkv * c.group, cap = c.prior + c.n + 5;
  std::vector<int64_t> kv_len(c.hkv);
  for (int64_t h = 0; h < c.hkv; ++h) kv_len[h] = c.prior + c.n - (c.prior > 0 ? 3 * h : 0);  // ragged heads
  const auto q = RandomVector(c.n * hq * c.hd, 21);
  const auto k = RandomVector(c.hkv * cap * c.hd, 22), v = RandomVector(c.hkv * cap * c.hd, 23);
  std::optional<PrefillPattern> pattern;
  if (c.pattern != "dense") {
    auto p = ParsePrefillPattern(c.pattern);
    ASSERT_TRUE(p.ok()) << p.status();
    pattern = *p;
  }
  const int64_t mass_cols = *std::max_element(kv_len.begin(), kv_len.end());
  auto run = [&](Backend& b, DType kv_dtype, std::vector<float>* out, std::vector<float>* mass, AttentionStats* st) {
    AttentionArgs a;
    a.q = Make(b, DType::kF32, {c.n, hq, c.hd}, q);
    a.k = Make(b, kv_dtype, {c.hkv, cap, c.hd}, RoundedTo(c.kv, k));
    a.v = Make(b, kv_dtype, {c.hkv, cap, c.hd}, RoundedTo(c.kv, v));
    a.kv_len = kv_len;
    a.scale = 1.0f / std::sqrt(static_cast<float>(c.hd));
    a.sliding_window = c.window;
    a.out = *b.Allocate(DType::kF32, {c.n, hq, c.hd});
    a.pattern = pattern ? &*pattern : nullptr;
    a.pattern_rows_after = c.rows_after;
    if (c.mass) a.attention_mass = Make(b, DType::kF32, {hq, mass_cols}, std::vector<float>(hq * mass_cols, 0.0f));
    a.stats = st;
    b.Attention(a);
    ASSERT_TRUE(b.Synchronize().ok());
    *out = Fetch(b, a.out);
    if (c.mass) *mass = Fetch(b, a.attention_mass);
  };
  std::vector<float> cpu_out, gpu_out, cpu_mass, gpu_mass;
  AttentionStats cpu_stats, gpu_stats;
  run(*cpu, DType::kF32, &cpu_out, &cpu_mass, &cpu_stats);
  run(gpu, c.kv, &gpu_out, &gpu_mass, &gpu_stats);
  EXPECT_LE(MaxError(gpu_out, cpu_out), 2e-4f);
  EXPECT_EQ(gpu_stats.computed_pairs, cpu_stats.computed_pairs);
  EXPECT_EQ(gpu_stats.causal_pairs, cpu_stats.causal_pairs);
  if (c.mass) {
    EXPECT_LE(MaxError(gpu_mass, cpu_mass), 1e-4f);
  }
}

INSTANTIATE_TEST_SUITE_P(Grid, CudaAttentionTest, ::testing::ValuesIn(AttentionGrid()), CaseName);

TEST(CudaBackendTest, DeviceErrorsAreReportedNotFatal) {
  KVLAB_SKIP_WITHOUT_GPU();
  auto gpu = NewCudaBackend({});
  ASSERT_TRUE(gpu.ok());
  // Far more memory than any GPU has: a status, not an abort.
  auto huge = (*gpu)->Allocate(DType::kF32, {int64_t{1} << 40});
  EXPECT_EQ(huge.status().code(), absl::StatusCode::kResourceExhausted) << huge.status();
  EXPECT_TRUE((*gpu)->Synchronize().ok());
  EXPECT_EQ(NewCudaBackend(testing::CudaOptions(DType::kBF16, 999)).status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace kvlab
