// Sparse prefill patterns (A-shape, Tri-shape, vertical-slash) and the
// observation (window queries, attention mass) against explicitly masked,
// naive double-precision references, at the op level and through
// Model::Forward on a fixture model.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "engine/attention_pattern.h"
#include "engine/backend.h"
#include "engine/cpu/sparse_attention.h"
#include "engine/model.h"
#include "engine/observation.h"
#include "gtest/gtest.h"
#include "tests/util/test_util.h"

namespace kvlab {
namespace {

PrefillPattern Parse(const std::string& spec) {
  auto p = ParsePrefillPattern(spec);
  EXPECT_TRUE(p.ok()) << p.status();
  return *p;
}

std::vector<float> Random(size_t n, std::mt19937& rng, float sd = 1.0f) {
  std::normal_distribution<float> d(0.0f, sd);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// One attention problem on host memory: n new queries after `prior` rows.
struct Problem {
  int64_t n = 0, prior = 0, hq = 0, hkv = 0, hd = 0, window = 0, rows_after = 0;
  std::vector<float> q, k, v;  // [n, hq, hd], [hkv, cap, hd] x2
  int64_t cap() const { return prior + n; }
  int64_t group() const { return hq / hkv; }
  float scale() const { return 1.0f / std::sqrt(static_cast<float>(hd)); }
};

Problem MakeProblem(int64_t n, int64_t prior, int64_t hq, int64_t hkv, int64_t hd, uint32_t seed,
                    float q_sd = 1.0f) {
  std::mt19937 rng(seed);
  Problem p;
  p.n = n;
  p.prior = prior;
  p.hq = hq;
  p.hkv = hkv;
  p.hd = hd;
  p.q = Random(n * hq * hd, rng, q_sd);
  p.k = Random(hkv * p.cap() * hd, rng);
  p.v = Random(hkv * p.cap() * hd, rng);
  return p;
}

// ---- naive references (independent of the kernels) ----------------------

// The test's own vertical_slash estimate: double precision, full sorts.
struct NaiveChoice {
  std::set<int64_t> columns, offsets;
  // Per 64-query tile of the call, which cache rows it keeps (before the
  // causal mask): kept columns, and [R0 - o, R1 - o) for every kept offset o.
  std::vector<std::vector<char>> tile_keys;
};

void FillTileKeys(const Problem& p, NaiveChoice& c) {
  for (int64_t t0 = 0; t0 < p.n; t0 += 64) {
    std::vector<char> keep(p.cap(), 0);
    const int64_t r0 = p.prior + t0, r1 = p.prior + std::min(p.n, t0 + 64);
    for (int64_t j = 0; j < p.cap(); ++j) {
      keep[j] = c.columns.count(j) > 0;
      for (int64_t o : c.offsets) keep[j] |= j >= r0 - o && j < r1 - o;
    }
    c.tile_keys.push_back(std::move(keep));
  }
}

std::vector<int64_t> NaiveTopK(const std::vector<double>& score, int64_t k) {
  std::vector<int64_t> idx(score.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return score[a] > score[b]; });
  idx.resize(std::min<int64_t>(k, idx.size()));
  return idx;
}

std::vector<NaiveChoice> NaiveEstimate(const Problem& p, const PrefillPattern& pat) {
  std::vector<NaiveChoice> out(p.hq);
  const int64_t len = p.prior + p.n, lq = std::min(pat.last_q, p.n);
  for (int64_t h = 0; h < p.hq; ++h) {
    const int64_t kvh = h / p.group();
    std::vector<double> vertical(len, 0.0), slash(len, 0.0);
    for (int64_t t = p.n - lq; t < p.n; ++t) {
      const int64_t r = p.prior + t;
      std::vector<double> s(r + 1);
      double mx = -INFINITY;
      for (int64_t j = 0; j <= r; ++j) {
        double dot = 0;
        for (int64_t d = 0; d < p.hd; ++d) {
          dot += static_cast<double>(p.q[(t * p.hq + h) * p.hd + d]) * p.k[(kvh * p.cap() + j) * p.hd + d];
        }
        s[j] = dot * p.scale();
        mx = std::max(mx, s[j]);
      }
      double sum = 0;
      for (double& x : s) sum += (x = std::exp(x - mx));
      for (int64_t j = 0; j <= r; ++j) {
        vertical[j] += s[j] / sum;
        slash[r - j] += s[j] / sum;
      }
    }
    for (int64_t j = 0; j < std::min<int64_t>(30, len); ++j) vertical[j] = INFINITY;
    for (int64_t o = 0; o < std::min<int64_t>(100, len); ++o) slash[o] = INFINITY;
    for (int64_t j : NaiveTopK(vertical, std::max<int64_t>(pat.n_vertical, 30))) out[h].columns.insert(j);
    for (int64_t o : NaiveTopK(slash, std::max<int64_t>(pat.n_slash, 50))) out[h].offsets.insert(o);
    FillTileKeys(p, out[h]);
  }
  return out;
}

// Whether query i (of this call) of head h sees cache row j, straight from
// the definitions in attention_pattern.h.
bool Visible(const Problem& p, const PrefillPattern* pat, const std::vector<NaiveChoice>& vs, int64_t h,
             int64_t i, int64_t j) {
  const int64_t r = p.prior + i;
  if (j > r) return false;
  if (p.window > 0 && r - j >= p.window) return false;
  if (pat == nullptr) return true;
  switch (pat->kind) {
    case PrefillPattern::kDense:
      return true;
    case PrefillPattern::kTriShape:
      if (i >= p.n + p.rows_after - pat->n_last) return true;
      [[fallthrough]];
    case PrefillPattern::kAShape:
      return j < pat->n_init || r - j < pat->n_local;
    case PrefillPattern::kVerticalSlash:
      return vs[h].tile_keys[i / 64][j];
  }
  return false;
}

struct Reference {
  std::vector<double> out;   // [n, hq, hd]
  std::vector<double> mass;  // [hq, cap]
  int64_t computed = 0, causal = 0;
};

Reference NaiveAttention(const Problem& p, const PrefillPattern* pat, const std::vector<NaiveChoice>& vs) {
  Reference ref;
  ref.out.assign(p.n * p.hq * p.hd, 0.0);
  ref.mass.assign(p.hq * p.cap(), 0.0);
  for (int64_t i = 0; i < p.n; ++i) {
    const int64_t r = p.prior + i;
    for (int64_t h = 0; h < p.hq; ++h) {
      const int64_t kvh = h / p.group();
      std::vector<double> s(r + 1, -INFINITY);
      double mx = -INFINITY;
      for (int64_t j = 0; j <= r; ++j) {
        if (Visible(p, nullptr, vs, h, i, j)) ++ref.causal;
        if (!Visible(p, pat, vs, h, i, j)) continue;
        ++ref.computed;
        double dot = 0;
        for (int64_t d = 0; d < p.hd; ++d) {
          dot += static_cast<double>(p.q[(i * p.hq + h) * p.hd + d]) * p.k[(kvh * p.cap() + j) * p.hd + d];
        }
        s[j] = dot * p.scale();
        mx = std::max(mx, s[j]);
      }
      double sum = 0;
      for (double& x : s) sum += (x = std::isinf(x) ? 0.0 : std::exp(x - mx));
      for (int64_t j = 0; j <= r; ++j) {
        const double pj = s[j] / sum;
        ref.mass[h * p.cap() + j] += pj;
        for (int64_t d = 0; d < p.hd; ++d) ref.out[(i * p.hq + h) * p.hd + d] += pj * p.v[(kvh * p.cap() + j) * p.hd + d];
      }
    }
  }
  return ref;
}

// ---- running the backend op -----------------------------------------------

struct OpResult {
  std::vector<float> out, mass;
  AttentionStats stats;
};

// Runs queries [q_begin, q_end) of p as one attention call (kv_len covers
// rows up to the last of them; rows after them count as pattern_rows_after).
OpResult RunOp(Backend& backend, const Problem& p, const PrefillPattern* pat, bool with_mass,
               int64_t q_begin = 0, int64_t q_end = -1) {
  if (q_end < 0) q_end = p.n;
  const int64_t m = q_end - q_begin;
  AttentionArgs a;
  a.q = *backend.Allocate(DType::kF32, {m, p.hq, p.hd});
  a.k = *backend.Allocate(DType::kF32, {p.hkv, p.cap(), p.hd});
  a.v = *backend.Allocate(DType::kF32, {p.hkv, p.cap(), p.hd});
  a.out = *backend.Allocate(DType::kF32, {m, p.hq, p.hd});
  EXPECT_TRUE(backend.Upload(p.q.data() + q_begin * p.hq * p.hd, a.q).ok());
  EXPECT_TRUE(backend.Upload(p.k.data(), a.k).ok());
  EXPECT_TRUE(backend.Upload(p.v.data(), a.v).ok());
  a.kv_len.assign(p.hkv, p.prior + q_end);
  a.scale = p.scale();
  a.sliding_window = p.window;
  a.pattern = pat;
  a.pattern_rows_after = p.rows_after + (p.n - q_end);
  OpResult r;
  r.mass.assign(p.hq * p.cap(), 0.0f);
  if (with_mass) {
    a.attention_mass = *backend.Allocate(DType::kF32, {p.hq, p.cap()});
    EXPECT_TRUE(backend.Upload(r.mass.data(), a.attention_mass).ok());
  }
  a.stats = &r.stats;
  backend.Attention(a);
  r.out.resize(m * p.hq * p.hd);
  EXPECT_TRUE(backend.Download(a.out, r.out.data()).ok());
  if (with_mass) {
    EXPECT_TRUE(backend.Download(a.attention_mass, r.mass.data()).ok());
  }
  return r;
}

std::vector<NaiveChoice> ChoicesFor(const Problem& p, const PrefillPattern* pat) {
  if (pat == nullptr || pat->kind != PrefillPattern::kVerticalSlash) return {};
  return NaiveEstimate(p, *pat);
}

// ---- op-level cases -----------------------------------------------------------

struct Case {
  std::string name;
  std::string spec;  // "" = no pattern (dense kernel, mass forces the tiled path)
  int64_t n, prior, hq, hkv, hd, window, rows_after;
  bool sparse = true;  // the mask drops some causal pairs
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class SparseAttentionTest : public ::testing::TestWithParam<Case> {};

TEST_P(SparseAttentionTest, MatchesMaskedDenseReference) {
  const Case& c = GetParam();
  auto backend = NewCpuBackend();
  Problem p = MakeProblem(c.n, c.prior, c.hq, c.hkv, c.hd, 17);
  p.window = c.window;
  p.rows_after = c.rows_after;
  PrefillPattern pattern;
  const PrefillPattern* pat = nullptr;
  if (!c.spec.empty()) {
    pattern = Parse(c.spec);
    pat = &pattern;
  }
  const auto vs = ChoicesFor(p, pat);
  const Reference ref = NaiveAttention(p, pat, vs);
  for (bool with_mass : {false, true}) {
    SCOPED_TRACE(with_mass ? "with mass" : "without mass");
    const OpResult got = RunOp(*backend, p, pat, with_mass);
    double max_err = 0;
    for (size_t x = 0; x < got.out.size(); ++x) max_err = std::max(max_err, std::fabs(got.out[x] - ref.out[x]));
    EXPECT_LT(max_err, 1e-5);
    // Density: the exact pair count of the mask.
    EXPECT_EQ(got.stats.computed_pairs, ref.computed);
    EXPECT_EQ(got.stats.causal_pairs, ref.causal);
    if (with_mass) {
      double mass_err = 0;
      for (size_t x = 0; x < got.mass.size(); ++x) {
        mass_err = std::max(mass_err, std::fabs(got.mass[x] - ref.mass[x]) / std::max(1.0, ref.mass[x]));
      }
      EXPECT_LT(mass_err, 1e-5);
    }
  }
  if (c.sparse) {
    EXPECT_LT(ref.computed, ref.causal) << "case should actually be sparse";
  } else {
    EXPECT_EQ(ref.computed, ref.causal);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Patterns, SparseAttentionTest,
    ::testing::Values(
        Case{"dense_mass", "", 300, 0, 6, 2, 16, 0, 0, false},
        Case{"dense_mass_prior_window", "", 150, 200, 4, 2, 8, 90, 0, false},
        Case{"a_shape_small", "a_shape{n_init=7,n_local=40}", 300, 0, 6, 2, 16, 0, 0},
        Case{"a_shape_wide", "a_shape{n_init=20,n_local=300}", 700, 0, 4, 1, 16, 0, 0},
        Case{"a_shape_after_prefix", "a_shape{n_init=130,n_local=70}", 129, 250, 4, 2, 16, 0, 0},
        Case{"a_shape_window", "a_shape{n_init=10,n_local=100}", 333, 0, 4, 2, 8, 150, 0},
        Case{"a_shape_few_rows", "a_shape{n_init=1,n_local=2}", 3, 5, 4, 2, 8, 0, 0},
        Case{"a_shape_mha", "a_shape{n_init=3,n_local=64}", 200, 0, 3, 3, 8, 0, 0},
        Case{"tri_shape", "tri_shape{n_init=5,n_local=50,n_last=70}", 300, 0, 6, 2, 16, 0, 0},
        Case{"tri_shape_chunk_mid", "tri_shape{n_init=5,n_local=33,n_last=100}", 130, 200, 4, 2, 16, 0, 40},
        Case{"tri_shape_chunk_early", "tri_shape{n_init=5,n_local=33,n_last=10}", 130, 0, 4, 2, 16, 0, 40},
        Case{"vertical_slash", "vertical_slash{n_vertical=60,n_slash=104,last_q=64}", 700, 0, 6, 2, 16, 0, 0},
        Case{"vertical_slash_prefix", "vertical_slash{n_vertical=40,n_slash=102,last_q=32}", 333, 150, 4, 2, 8, 0,
             0},
        Case{"vertical_slash_short", "vertical_slash{n_vertical=1,n_slash=1,last_q=64}", 45, 0, 4, 2, 8, 0, 0,
             false},
        Case{"vertical_slash_window", "vertical_slash{n_vertical=50,n_slash=101,last_q=64}", 500, 0, 4, 2, 8, 200,
             0}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(SparseAttentionOpTest, VerticalSlashChoiceMatchesNaiveEstimate) {
  for (const auto& [n, prior, spec] : std::vector<std::tuple<int64_t, int64_t, std::string>>{
           {700, 0, "vertical_slash{n_vertical=60,n_slash=150,last_q=64}"},
           {400, 123, "vertical_slash{n_vertical=200,n_slash=300,last_q=16}"},
           {50, 0, "vertical_slash"}}) {
    SCOPED_TRACE(spec);
    Problem p = MakeProblem(n, prior, 6, 2, 16, 5, /*q_sd=*/2.0f);
    const PrefillPattern pat = Parse(spec);
    auto backend = NewCpuBackend();
    AttentionArgs a;
    a.q = *backend->Allocate(DType::kF32, {p.n, p.hq, p.hd});
    a.k = *backend->Allocate(DType::kF32, {p.hkv, p.cap(), p.hd});
    ASSERT_TRUE(backend->Upload(p.q.data(), a.q).ok());
    ASSERT_TRUE(backend->Upload(p.k.data(), a.k).ok());
    a.kv_len.assign(p.hkv, p.cap());
    a.scale = p.scale();
    a.pattern = &pat;
    const auto got = cpu::EstimateVerticalSlash(a);
    const auto want = NaiveEstimate(p, pat);
    ASSERT_EQ(got.size(), want.size());
    for (int64_t h = 0; h < p.hq; ++h) {
      EXPECT_EQ(std::set<int64_t>(got[h].columns.begin(), got[h].columns.end()), want[h].columns) << "head " << h;
      EXPECT_EQ(std::set<int64_t>(got[h].offsets.begin(), got[h].offsets.end()), want[h].offsets) << "head " << h;
      EXPECT_TRUE(std::is_sorted(got[h].columns.begin(), got[h].columns.end()));
      EXPECT_EQ(got[h].columns.size(), std::min<size_t>(p.cap(), std::max<int64_t>(pat.n_vertical, 30)));
      EXPECT_EQ(got[h].offsets.size(), std::min<size_t>(p.cap(), std::max<int64_t>(pat.n_slash, 50)));
    }
    // Heads choose different patterns (dynamic per head).
    if (pat.n_vertical < p.cap()) {
      EXPECT_NE(got[0].columns, got[1].columns);
    }
  }
}

TEST(SparseAttentionOpTest, AShapeCoveringEverythingEqualsDense) {
  auto backend = NewCpuBackend();
  const Problem p = MakeProblem(300, 0, 6, 2, 16, 3);
  const PrefillPattern pat = Parse("a_shape{n_init=1,n_local=300}");
  const OpResult dense = RunOp(*backend, p, nullptr, false);
  const OpResult sparse = RunOp(*backend, p, &pat, false);
  double max_err = 0;
  for (size_t x = 0; x < dense.out.size(); ++x) max_err = std::max<double>(max_err, std::fabs(dense.out[x] - sparse.out[x]));
  EXPECT_LT(max_err, 1e-5);
  EXPECT_EQ(sparse.stats.computed_pairs, sparse.stats.causal_pairs);
  EXPECT_EQ(sparse.stats.density(), 1.0);
  EXPECT_EQ(dense.stats.computed_pairs, 6 * 300 * 301 / 2);
}

TEST(SparseAttentionOpTest, ChunkedCallsEqualOneCall) {
  auto backend = NewCpuBackend();
  const Problem p = MakeProblem(400, 0, 4, 2, 16, 9);
  for (const char* spec : {"a_shape{n_init=9,n_local=70}", "tri_shape{n_init=9,n_local=70,n_last=150}"}) {
    SCOPED_TRACE(spec);
    const PrefillPattern pat = Parse(spec);
    const OpResult whole = RunOp(*backend, p, &pat, true);
    AttentionStats chunked_stats;
    std::vector<float> chunked_mass(p.hq * p.cap(), 0.0f);
    for (int64_t c0 = 0; c0 < p.n; c0 += 96) {
      const int64_t c1 = std::min(p.n, c0 + 96);
      const OpResult part = RunOp(*backend, p, &pat, true, c0, c1);
      double max_err = 0;
      for (size_t x = 0; x < part.out.size(); ++x) {
        max_err = std::max<double>(max_err, std::fabs(part.out[x] - whole.out[c0 * p.hq * p.hd + x]));
      }
      EXPECT_LT(max_err, 1e-6) << "chunk at " << c0;
      chunked_stats.Add(part.stats);
      for (size_t x = 0; x < chunked_mass.size(); ++x) chunked_mass[x] += part.mass[x];
    }
    EXPECT_EQ(chunked_stats.computed_pairs, whole.stats.computed_pairs);
    EXPECT_EQ(chunked_stats.causal_pairs, whole.stats.causal_pairs);
    for (size_t x = 0; x < chunked_mass.size(); ++x) ASSERT_NEAR(chunked_mass[x], whole.mass[x], 1e-4);
  }
}

// ---- Model::Forward ------------------------------------------------------------

class SparseModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_ = NewCpuBackend();
    auto model = Model::Load(testing::FixtureDir("tiny-llama3"), *backend_);
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = std::move(*model);
    std::mt19937 rng(11);
    std::uniform_int_distribution<int32_t> d(3, static_cast<int32_t>(model_->config().vocab_size - 1));
    context_.resize(300);
    for (auto& t : context_) t = d(rng);
    query_ = {5, 17, 99, 256, 7, 8, 300};
  }

  struct Run {
    Logits logits;
    ForwardStats stats;
    Observation obs;
    std::unique_ptr<KvCache> cache;
  };

  Run Prefill(const PrefillPattern* pat, int64_t chunk, ObservationRequest observe = {}) {
    Run r;
    r.cache = *model_->NewCache(context_.size() + 16);
    ForwardOptions o;
    o.all_logits = true;
    o.chunk_tokens = chunk;
    o.pattern = pat;
    o.stats = &r.stats;
    o.observe = observe;
    o.observation = &r.obs;
    auto logits = model_->Forward(context_, *r.cache, o);
    EXPECT_TRUE(logits.ok()) << logits.status();
    if (logits.ok()) r.logits = std::move(*logits);
    return r;
  }

  static double MaxDiff(const Logits& a, const Logits& b) {
    EXPECT_EQ(a.values.size(), b.values.size());
    double m = 0;
    for (size_t i = 0; i < a.values.size(); ++i) m = std::max<double>(m, std::fabs(a.values[i] - b.values[i]));
    return m;
  }

  std::unique_ptr<Backend> backend_;
  std::unique_ptr<Model> model_;
  std::vector<int32_t> context_, query_;
};

TEST_F(SparseModelTest, CoveringPatternEqualsDenseAndSparseDiffers) {
  const Run dense = Prefill(nullptr, 512);
  EXPECT_EQ(dense.stats.density(), 1.0);
  for (const char* spec : {"a_shape{n_init=1,n_local=300}", "tri_shape{n_init=1,n_local=1,n_last=300}",
                           "vertical_slash{n_vertical=300,n_slash=300,last_q=64}"}) {
    const PrefillPattern pat = Parse(spec);
    const Run r = Prefill(&pat, 512);
    EXPECT_LT(MaxDiff(dense.logits, r.logits), 1e-4) << spec;
    EXPECT_EQ(r.stats.computed_pairs, r.stats.causal_pairs) << spec;
  }
  for (const char* spec : {"a_shape{n_init=4,n_local=32}", "tri_shape{n_init=4,n_local=32,n_last=20}",
                           "vertical_slash{n_vertical=30,n_slash=50,last_q=64}"}) {
    const PrefillPattern pat = Parse(spec);
    const Run r = Prefill(&pat, 512);
    EXPECT_GT(MaxDiff(dense.logits, r.logits), 1e-3) << spec;
    EXPECT_LT(r.stats.density(), 0.75) << spec;
    EXPECT_EQ(r.stats.causal_pairs, dense.stats.causal_pairs) << spec;
  }
}

TEST_F(SparseModelTest, ChunkingDoesNotChangeSparseResults) {
  for (const char* spec : {"a_shape{n_init=4,n_local=32}", "tri_shape{n_init=4,n_local=32,n_last=100}",
                           "vertical_slash{n_vertical=40,n_slash=60,last_q=64}"}) {
    const PrefillPattern pat = Parse(spec);
    const Run whole = Prefill(&pat, 512);
    const Run chunked = Prefill(&pat, 37);
    EXPECT_LT(MaxDiff(whole.logits, chunked.logits), 1e-4) << spec;
    EXPECT_EQ(whole.stats.computed_pairs, chunked.stats.computed_pairs) << spec;
  }
}

TEST_F(SparseModelTest, QueryTokensAfterSparsePrefillAreDense) {
  const PrefillPattern pat = Parse("a_shape{n_init=4,n_local=32}");
  Run sparse = Prefill(&pat, 64);
  ForwardStats stats;
  ForwardOptions o;
  o.stats = &stats;
  auto after_sparse = model_->Forward(query_, *sparse.cache, o);
  ASSERT_TRUE(after_sparse.ok());
  // Every appended query attends to the whole cache: density 1 and the full
  // pair count (ctx + i + 1 keys for query i, every layer and query head).
  const ModelConfig& c = model_->config();
  int64_t pairs = 0;
  for (int64_t i = 0; i < static_cast<int64_t>(query_.size()); ++i) pairs += context_.size() + i + 1;
  EXPECT_EQ(stats.computed_pairs, pairs * c.num_layers * c.num_heads);
  EXPECT_EQ(stats.causal_pairs, stats.computed_pairs);
  // And they see the sparse-prefilled context: different from a dense one.
  Run dense = Prefill(nullptr, 64);
  auto after_dense = model_->Forward(query_, *dense.cache);
  ASSERT_TRUE(after_dense.ok());
  EXPECT_GT(MaxDiff(*after_sparse, *after_dense), 1e-4);
}

// Window queries and attention mass: with the window covering every token,
// the mass computed naively from the observed queries and the cached keys
// (under the same mask) must equal the observed mass.
TEST_F(SparseModelTest, ObservationMatchesNaiveRecomputation) {
  const ModelConfig& c = model_->config();
  const int64_t n = static_cast<int64_t>(context_.size()), hq = c.num_heads, hd = c.head_dim;
  const int64_t group = hq / c.num_kv_heads;
  const PrefillPattern ashape = Parse("a_shape{n_init=4,n_local=32}");
  for (const PrefillPattern* pat : {static_cast<const PrefillPattern*>(nullptr), &ashape}) {
    SCOPED_TRACE(pat ? pat->Canonical() : "dense");
    const Run r = Prefill(pat, 100, ObservationRequest{.window = n, .attention_mass = true});
    const Observation& obs = r.obs;
    ASSERT_EQ(obs.window, n);
    ASSERT_EQ(obs.n_keys, n);
    ASSERT_EQ(static_cast<int64_t>(obs.layers.size()), c.num_layers);
    for (int64_t l = 0; l < c.num_layers; ++l) {
      const LayerObservation& lo = obs.layers[l];
      ASSERT_EQ(static_cast<int64_t>(lo.window_queries.size()), n * hq * hd);
      ASSERT_EQ(static_cast<int64_t>(lo.attention_mass.size()), hq * n);
      Problem p;
      p.n = n;
      p.prior = 0;
      p.hq = hq;
      p.hkv = c.num_kv_heads;
      p.hd = hd;
      p.q = lo.window_queries;
      p.k.resize(c.num_kv_heads * n * hd);
      p.v.resize(c.num_kv_heads * n * hd);
      for (int64_t h = 0; h < c.num_kv_heads; ++h) {
        std::vector<float> k, v;
        ASSERT_TRUE(r.cache->ReadHead(l, h, &k, &v).ok());
        std::copy(k.begin(), k.end(), p.k.begin() + h * n * hd);
        std::copy(v.begin(), v.end(), p.v.begin() + h * n * hd);
      }
      const Reference ref = NaiveAttention(p, pat, {});
      double err = 0, total = 0;
      for (int64_t x = 0; x < hq * n; ++x) {
        err = std::max(err, std::fabs(lo.attention_mass[x] - ref.mass[x]) / std::max(1.0, ref.mass[x]));
        total += lo.attention_mass[x];
      }
      EXPECT_LT(err, 1e-4) << "layer " << l;
      EXPECT_NEAR(total, static_cast<double>(n * hq), 1e-2);  // each query's probabilities sum to 1
      // KV-head mean over the GQA group.
      const std::vector<float> kv_mass = obs.KvHeadMass(l);
      ASSERT_EQ(static_cast<int64_t>(kv_mass.size()), c.num_kv_heads * n);
      for (int64_t j = 0; j < n; j += 37) {
        double mean = 0;
        for (int64_t g = 0; g < group; ++g) mean += lo.attention_mass[g * n + j];
        EXPECT_NEAR(kv_mass[j], mean / group, 1e-5);
      }
    }
  }
}

TEST_F(SparseModelTest, WindowQueriesAreTheLastQueriesInAnyChunking) {
  const Run whole = Prefill(nullptr, 512, ObservationRequest{.window = 300});
  const Run small = Prefill(nullptr, 512, ObservationRequest{.window = 40});
  const Run chunked = Prefill(nullptr, 23, ObservationRequest{.window = 40});
  const int64_t row = model_->config().num_heads * model_->config().head_dim;
  ASSERT_EQ(small.obs.window, 40);
  for (int64_t l = 0; l < model_->config().num_layers; ++l) {
    EXPECT_TRUE(small.obs.layers[l].attention_mass.empty());
    const auto& w = whole.obs.layers[l].window_queries;
    const auto& s = small.obs.layers[l].window_queries;
    const auto& ch = chunked.obs.layers[l].window_queries;
    ASSERT_EQ(static_cast<int64_t>(s.size()), 40 * row);
    for (int64_t x = 0; x < 40 * row; ++x) {
      ASSERT_NEAR(s[x], w[(300 - 40) * row + x], 1e-5);
      ASSERT_NEAR(ch[x], s[x], 1e-4);
    }
    // Grouped per KV head: [kv_head, window, group, head_dim].
    const auto grouped = small.obs.KvHeadWindowQueries(l);
    const int64_t hd = model_->config().head_dim, group = model_->config().num_heads / 2;
    EXPECT_EQ(grouped[((1 * 40 + 5) * group + 1) * hd + 3], s[(5 * model_->config().num_heads + group + 1) * hd + 3]);
  }
  // A window larger than the call keeps every fed token.
  const Run big = Prefill(nullptr, 512, ObservationRequest{.window = 1000});
  EXPECT_EQ(big.obs.window, 300);
}

TEST_F(SparseModelTest, ObservationErrors) {
  auto cache = *model_->NewCache(8);
  ForwardOptions o;
  o.observe.window = 4;
  auto r = model_->Forward(query_, *cache, o);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  Observation obs;
  o.observation = &obs;
  o.observe.window = -1;
  r = model_->Forward(query_, *cache, o);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kvlab
