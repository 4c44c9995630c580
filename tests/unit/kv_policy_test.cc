// KV eviction policies against the NumPy reference (tools/reference/policies),
// budgets, PyramidKV's per-layer budgets, ChunkKV's chunks and index reuse,
// spec validation and the local compressor's error handling.
#include <cmath>
#include <cstring>
#include <fstream>
#include <set>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kvcache/codec.h"
#include "kvcache/kv_policy_spec.h"
#include "kvcache/method_spec.h"
#include "kvcache/observation_needs.h"
#include "kvcache/policies/evict.h"
#include "kvcache/policies/selection.h"
#include "nlohmann/json.hpp"
#include "services/compressor/compressor.h"
#include "tests/util/test_util.h"

namespace kvlab {
namespace {

// The LCG of tools/reference/policies/reference.py.
class Lcg {
 public:
  explicit Lcg(uint64_t seed) : s_(seed) {}
  float Uniform() {
    s_ = s_ * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<float>(static_cast<double>((s_ >> 40) & 0xFFFFFF) / 16777216.0);
  }
  std::vector<float> Symmetric(int64_t count, float scale) {
    std::vector<float> out(count);
    for (float& x : out) x = (Uniform() * 2.0f - 1.0f) * scale;
    return out;
  }
  std::vector<float> UniformVec(int64_t count) {
    std::vector<float> out(count);
    for (float& x : out) x = Uniform();
    return out;
  }

 private:
  uint64_t s_;
};

std::string Bytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

struct Synthetic {
  KvEntry entry;
  std::vector<v1::LayerObservation> observations;
};

// Same inputs as reference.make_inputs; mass split into two pieces.
Synthetic MakeSynthetic(uint64_t seed, int64_t layers, int64_t n, int64_t kv_heads, int64_t q_heads,
                        int64_t head_dim, int64_t window, bool with_mass) {
  Synthetic s;
  auto codec = *MakeCodec("f32");
  v1::KvEntryHeader& h = s.entry.header;
  h.set_format_version(kKvEntryFormatVersion);
  h.set_model_fingerprint("synthetic");
  h.set_codec("f32");
  for (int64_t i = 0; i < n; ++i) h.add_tokens(static_cast<int32_t>(i % 500));
  h.set_num_layers(layers);
  h.set_num_kv_heads(kv_heads);
  h.set_head_dim(head_dim);
  h.set_next_position(n);
  Lcg g(seed);
  for (int64_t l = 0; l < layers; ++l) {
    std::vector<float> k = g.Symmetric(kv_heads * n * head_dim, 1.0f);
    std::vector<float> v = g.Symmetric(kv_heads * n * head_dim, 1.0f);
    const int64_t w = std::min(window, n);
    std::vector<float> q = g.Symmetric(w * q_heads * head_dim, 4.0f);
    v1::KvLayer layer;
    for (int64_t hd = 0; hd < kv_heads; ++hd) {
      v1::KvHead* head = layer.add_heads();
      for (int64_t i = 0; i < n; ++i) head->add_positions(static_cast<int32_t>(i));
      const int64_t off = hd * n * head_dim, len = n * head_dim;
      head->set_payload(codec->Encode(std::span<const float>(k.data() + off, len),
                                      std::span<const float>(v.data() + off, len), head_dim));
      h.add_kept(n);
    }
    s.entry.layers.push_back(layer.SerializeAsString());
    v1::LayerObservation o;
    o.set_layer(static_cast<int32_t>(l));
    o.set_window_queries(Bytes(q));
    if (with_mass) {
      std::vector<float> mass = g.UniformVec(q_heads * n);
      const int64_t half = q_heads * n / 2;
      o.set_attention_mass(Bytes(std::vector<float>(mass.begin(), mass.begin() + half)));
      o.set_mass_offset(0);
      s.observations.push_back(o);
      v1::LayerObservation rest;
      rest.set_layer(static_cast<int32_t>(l));
      rest.set_attention_mass(Bytes(std::vector<float>(mass.begin() + half, mass.end())));
      rest.set_mass_offset(half);
      s.observations.push_back(rest);
    } else {
      s.observations.push_back(o);
    }
  }
  SealEntry(s.entry);
  return s;
}

nlohmann::json LoadFixture() {
  std::ifstream f(testing::SourceDir() + "/tools/reference/policies/fixtures/kept_sets.json");
  return nlohmann::json::parse(f);
}

TEST(KvPolicyTest, KeptSetsEqualTheNumPyReference) {
  nlohmann::json fixture = LoadFixture();
  ASSERT_GE(fixture["cases"].size(), 9u);
  for (const auto& c : fixture["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const int64_t layers = c["layers"], n = c["n"], heads = c["kv_heads"];
    Synthetic s = MakeSynthetic(c["seed"].get<uint64_t>(), layers, n, heads, c["q_heads"], c["head_dim"],
                                c["window"], c["policy"] == "h2o");
    auto policy = ParseKvPolicy(c["spec"].get<std::string>());
    ASSERT_TRUE(policy.ok()) << policy.status();
    auto kept = SelectKeptRows(s.entry, s.observations, policy->eviction);
    ASSERT_TRUE(kept.ok()) << kept.status();
    for (int64_t l = 0; l < layers; ++l) {
      for (int64_t h = 0; h < heads; ++h) {
        std::vector<int32_t> want = c["kept"][l][h].get<std::vector<int32_t>>();
        EXPECT_EQ(kept->rows[l * heads + h], want) << "layer " << l << " head " << h;
      }
    }
  }
}

TEST(KvPolicyTest, WindowAndSinksAlwaysKeptAndBudgetsExact) {
  const int64_t n = 300, layers = 3, heads = 2;
  Synthetic s = MakeSynthetic(11, layers, n, heads, 4, 16, 16, /*with_mass=*/true);
  struct Case {
    std::string spec;
    int64_t rows;        // rows per head, -1 = per-layer (pyramid)
    int64_t always_tail;  // trailing tokens always kept
    int64_t sinks;
  };
  for (const Case& c : std::vector<Case>{{"streamingllm{n_sink=4,n_recent=60}", 64, 60, 4},
                                         {"h2o{heavy=50,recent=30}", 80, 30, 0},
                                         {"h2o{heavy=0.1,recent=0.05}", 45, 15, 0},
                                         {"snapkv{window=16,capacity=100}", 100, 16, 0},
                                         {"snapkv{window=16,ratio=0.25}", 75, 16, 0},
                                         {"chunkkv{window=16,capacity=97,chunk=10}", 97, 16, 0},
                                         {"pyramidkv{window=16,capacity=60}", -1, 16, 0}}) {
    SCOPED_TRACE(c.spec);
    auto policy = ParseKvPolicy(c.spec);
    ASSERT_TRUE(policy.ok()) << policy.status();
    auto kept = SelectKeptRows(s.entry, s.observations, policy->eviction);
    ASSERT_TRUE(kept.ok()) << kept.status();
    for (int64_t l = 0; l < layers; ++l) {
      for (int64_t h = 0; h < heads; ++h) {
        const auto& r = kept->rows[l * heads + h];
        if (c.rows >= 0) {
          EXPECT_EQ(static_cast<int64_t>(r.size()), c.rows);
        }
        std::set<int32_t> set(r.begin(), r.end());
        EXPECT_EQ(set.size(), r.size());
        EXPECT_TRUE(std::is_sorted(r.begin(), r.end()));
        for (int64_t i = n - c.always_tail; i < n; ++i) EXPECT_TRUE(set.count(i)) << i;
        for (int64_t i = 0; i < c.sinks; ++i) EXPECT_TRUE(set.count(i)) << i;
      }
    }
  }
}

TEST(KvPolicyTest, CapacityAtLeastContextIsTheIdentity) {
  const int64_t n = 120;
  Synthetic s = MakeSynthetic(3, 2, n, 2, 4, 16, 32, true);
  for (std::string spec : {"streamingllm{n_sink=4,n_recent=116}", "h2o{heavy=60,recent=60}",
                           "h2o{heavy=0.5,recent=0.5}", "snapkv{capacity=120}", "pyramidkv{capacity=200}",
                           "chunkkv{capacity=1.0}", "snapkv{capacity=4096}"}) {
    SCOPED_TRACE(spec);
    auto policy = ParseKvPolicy(spec);
    ASSERT_TRUE(policy.ok()) << policy.status();
    // No observations at all: the identity must not need them.
    auto kept = SelectKeptRows(s.entry, {}, policy->eviction);
    ASSERT_TRUE(kept.ok()) << kept.status();
    for (const auto& r : kept->rows) {
      ASSERT_EQ(static_cast<int64_t>(r.size()), n);
      for (int64_t i = 0; i < n; ++i) EXPECT_EQ(r[i], i);
    }
  }
}

TEST(KvPolicyTest, PyramidBudgetsFollowTheFormulaAndAverageToTheTarget) {
  for (int64_t layers : {2, 3, 8, 32, 80}) {
    for (int64_t n : {600, 2000, 16384}) {
      for (int64_t capacity : {64, 128, 256, 1024, 2048}) {
        for (int64_t beta : {1, 5, 20}) {
          const int64_t w = 32, t = capacity - w;
          std::vector<int64_t> b = PyramidBudgets(layers, n, capacity, w, beta);
          ASSERT_EQ(static_cast<int64_t>(b.size()), layers);
          if (n < capacity) continue;
          double mean = 0;
          for (int64_t x : b) mean += static_cast<double>(x) / static_cast<double>(layers);
          EXPECT_LE(std::abs(mean - static_cast<double>(t)), 1.0) << layers << " " << n << " " << capacity;
          EXPECT_TRUE(std::is_sorted(b.rbegin(), b.rend()));  // non-increasing with depth
          for (int64_t x : b) {
            EXPECT_GE(x, 0);
            EXPECT_LE(x, n - w);
          }
          if (n >= 2 * t) {
            int64_t min_num = t / beta, max_num = 2 * t - min_num;
            if (max_num >= n - w) {
              max_num = n - w;
              min_num = 2 * t - max_num;
            }
            EXPECT_EQ(b.front(), max_num);
            EXPECT_EQ(b.back(), min_num);
          } else {
            for (int64_t x : b) EXPECT_EQ(x, t);  // uniform fallback for short contexts
          }
        }
      }
    }
  }
}

TEST(KvPolicyTest, ChunkKvKeepsWholeChunksAndReusesIndices) {
  const int64_t n = 400, layers = 8, heads = 2, chunk = 10, w = 16, capacity = 16 + 95;
  Synthetic s = MakeSynthetic(5, layers, n, heads, 4, 16, w, false);
  for (int64_t reuse : {1, 2, 4}) {
    auto policy = ParseKvPolicy(absl::StrCat("chunkkv{chunk=10,window=16,capacity=", capacity,
                                             ",reuse_layers=", reuse, "}"));
    ASSERT_TRUE(policy.ok()) << policy.status();
    auto kept = SelectKeptRows(s.entry, s.observations, policy->eviction);
    ASSERT_TRUE(kept.ok()) << kept.status();
    for (int64_t l = 0; l < layers; ++l) {
      const auto& r = kept->rows[l * heads];
      EXPECT_EQ(kept->rows[l * heads + 1], r);  // one set per layer
      EXPECT_EQ(kept->rows[l * heads], kept->rows[(l - l % reuse) * heads]);
      // Count kept tokens per chunk of the prefix: whole chunks except one.
      std::map<int32_t, int> per_chunk;
      for (int32_t i : r) {
        if (i < n - w) per_chunk[i / chunk]++;
      }
      int partial = 0;
      for (auto [c, count] : per_chunk) {
        if (count != std::min<int64_t>(chunk, n - w - c * chunk)) ++partial;
      }
      EXPECT_LE(partial, 1);
      EXPECT_EQ(static_cast<int64_t>(r.size()), capacity);
    }
    nlohmann::json stats = nlohmann::json::parse(kept->stats_json);
    ASSERT_EQ(stats["adjacent_layer_jaccard"].size(), static_cast<size_t>(layers - 1));
    for (int64_t l = 0; l + 1 < layers; ++l) {
      if ((l + 1) % reuse != 0) {
        EXPECT_DOUBLE_EQ(stats["adjacent_layer_jaccard"][l].get<double>(), 1.0);
      }
    }
    EXPECT_GT(stats["adjacent_layer_jaccard_mean"].get<double>(), 0.0);
  }
}

TEST(KvPolicyTest, SpecsCanonicalizeAndValidate) {
  std::string codec;
  EXPECT_EQ(*CanonicalKvPolicy("snapkv", &codec), "snapkv{capacity=2048,kernel=5,pool=avg,window=32}");
  EXPECT_EQ(codec, "bf16");  // kept rows are stored in bf16 unless a codec is named
  EXPECT_EQ(*CanonicalKvPolicy("snapkv+bf16", &codec), "snapkv{capacity=2048,kernel=5,pool=avg,window=32}");
  EXPECT_EQ(*CanonicalKvPolicy("snapkv+f32", &codec), "snapkv{capacity=2048,kernel=5,pool=avg,window=32}+f32");
  EXPECT_EQ(codec, "f32");
  EXPECT_EQ(*CanonicalKvPolicy("snapkv{ratio=0.10}+kivi{bits=4}", &codec),
            "snapkv{capacity=0.1,kernel=5,pool=avg,window=32}+kivi{bits=4,group=32,residual=128}");
  EXPECT_EQ(codec, "kivi{bits=4,group=32,residual=128}");
  EXPECT_EQ(*CanonicalKvPolicy("flexgen", &codec), "flexgen{bits=4,group=64}");
  EXPECT_EQ(*CanonicalKvPolicy("kivi", &codec), "kivi{bits=2,group=32,residual=128}");
  EXPECT_EQ(*CanonicalKvPolicy("h2o{heavy=0.125,recent=64}+f16", &codec), "h2o{heavy=0.125,recent=64}+f16");
  EXPECT_EQ(codec, "f16");
  EXPECT_EQ(*CanonicalKvPolicy("streamingllm", &codec), "streamingllm{n_recent=4096,n_sink=128}");
  EXPECT_EQ(*CanonicalKvPolicy("pyramidkv{capacity=512}", &codec),
            "pyramidkv{beta=20,capacity=512,kernel=5,pool=avg,window=32}");
  EXPECT_EQ(*CanonicalKvPolicy("chunkkv{capacity=1.0}", &codec),
            "chunkkv{capacity=1.0,chunk=10,reuse_layers=1,window=32}");
  // One spelling per entry format: bf16 is full's default, a lone dense codec is full in it.
  EXPECT_EQ(*CanonicalKvPolicy("full", &codec), "full");
  EXPECT_EQ(codec, "bf16");
  EXPECT_EQ(*CanonicalKvPolicy("full{dtype=bf16}", &codec), "full");
  EXPECT_EQ(*CanonicalKvPolicy("bf16", &codec), "full");
  EXPECT_EQ(*CanonicalKvPolicy("f32", &codec), "full{dtype=f32}");
  EXPECT_EQ(codec, "f32");
  EXPECT_EQ(*CanonicalKvPolicy("full{dtype=f16}", &codec), "full{dtype=f16}");
  EXPECT_EQ(*CanonicalKvPolicy("f16", &codec), "full{dtype=f16}");
  for (const char* bad :
       {"lru", "snapkv{capacity=32}", "snapkv{capacity=16,window=32}", "snapkv{kernel=4}", "snapkv{pool=min}",
        "snapkv{foo=1}", "snapkv{capacity=0.0}", "snapkv{capacity=1.5}", "snapkv{capacity=-3}",
        "snapkv{capacity=100,ratio=0.1}", "h2o", "h2o{heavy=10}", "h2o{heavy=0,recent=0}", "kivi{bits=3}",
        "kivi{bits=8}", "flexgen{group=0}", "kivi{residual=x}", "snapkv+lru", "kivi+snapkv", "full+kivi",
        "chunkkv{reuse_layers=0}", "chunkkv{chunk=0}", "snapkv+kivi+f16", "streamingllm{n_sink=0,n_recent=0}"}) {
    auto r = CanonicalKvPolicy(bad, &codec);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  auto spec = ParseMethodSpec("kv=snapkv{capacity=512}+kivi{bits=4};decode=streamingllm{n_sink=4,n_recent=252}");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->decode, "streamingllm{n_recent=252,n_sink=4}");
  EXPECT_EQ(spec->codec, "kivi{bits=4,group=32,residual=128}");
  EXPECT_FALSE(ParseMethodSpec("decode=snapkv").ok());
  EXPECT_FALSE(ParseMethodSpec("decode=h2o{heavy=4}").ok());
}

TEST(KvPolicyTest, ObservationNeeds) {
  auto needs = [](const std::string& kv) { return NeedsFor(*ParseMethodSpec("kv=" + kv)); };
  EXPECT_EQ(needs("full").window, 0);
  EXPECT_FALSE(needs("full").attention_mass);
  EXPECT_EQ(needs("snapkv{window=16}").window, 16);
  EXPECT_EQ(needs("pyramidkv+kivi").window, 32);
  EXPECT_EQ(needs("chunkkv{window=8}").window, 8);
  EXPECT_TRUE(needs("h2o{heavy=1,recent=1}").attention_mass);
  EXPECT_EQ(needs("h2o{heavy=1,recent=1}").window, 0);
  EXPECT_EQ(needs("streamingllm").window, 0);
  EXPECT_EQ(needs("kivi").window, 0);
}

TEST(KvPolicyTest, DecodePolicyResolvesRatiosAgainstTheContext) {
  auto p = ParseDecodePolicy("h2o{heavy=0.25,recent=16}");
  ASSERT_TRUE(p.ok());
  auto c = ResolveDecodePolicy(*p, 400);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->heavy, 100);
  EXPECT_EQ(c->recent, 16);
  EXPECT_EQ(c->budget(), 116);
  EXPECT_FALSE(ResolveDecodePolicy(*ParseDecodePolicy("none"), 400).ok());
}

TEST(LocalCompressorTest, RejectsBadInputAndKeepsServing) {
  auto compressor = NewLocalCompressor();
  const int64_t n = 200;
  Synthetic s = MakeSynthetic(9, 2, n, 2, 4, 16, 32, false);
  struct Bad {
    std::string spec;
    std::vector<v1::LayerObservation> obs;
  };
  std::vector<Bad> bad = {
      {"kv=lru", s.observations},
      {"kv=snapkv{capacity=16,window=32}", s.observations},
      {"kv=snapkv{capacity=0.1}", s.observations},  // 20 rows <= window 32 for this context
      {"kv=kivi{bits=3}", {}},
      {"kv=kivi{group=32}", {}},       // head_dim 16 is not a multiple of 32
      {"kv=flexgen{group=12}", {}},
      {"kv=snapkv{capacity=100}", {}},  // needs window queries
      {"kv=h2o{heavy=10,recent=10}", s.observations},  // needs attention mass
      {"kv=snapkv{capacity=100,window=24}", s.observations},  // queries hold 32 rows, not 24
  };
  for (const Bad& b : bad) {
    auto r = compressor->Compress(CompressInput{s.entry, b.obs}, b.spec);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << b.spec << ": " << r.status();
  }
  KvEntry corrupt = s.entry;
  corrupt.layers[1][10] ^= 1;
  EXPECT_EQ(compressor->Compress(CompressInput{corrupt, {}}, "kv=full").status().code(),
            absl::StatusCode::kDataLoss);
  auto good = compressor->Compress(CompressInput{s.entry, s.observations}, "kv=snapkv{capacity=100}+kivi{group=16,residual=32}");
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_TRUE(VerifyEntry(*good).ok());
  EXPECT_EQ(good->header.codec(), "kivi{bits=2,group=16,residual=32}");
  for (int64_t k : good->header.kept()) EXPECT_EQ(k, 100);
  EXPECT_EQ(good->header.method_spec(),
            "prefill=dense;kv=snapkv{capacity=100,kernel=5,pool=avg,window=32}+kivi{bits=2,group=16,residual=32};"
            "decode=none;prompt=none");
  EXPECT_FALSE(good->header.stats_json().empty());
  EXPECT_LT(good->payload_bytes(), FullF16Bytes(good->header));
}

}  // namespace
}  // namespace kvlab
