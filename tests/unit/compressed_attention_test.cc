// Attention over compressed entries: the kept keys are used as stored (RoPE at
// their original positions) and new tokens continue at n_context + i, checked
// against a masked dense reference (tools/reference/policies/masked_forward.py);
// every policy with capacity >= context equals `full` end to end through the
// local services; decode-time eviction keeps the cache within budget.
#include <fstream>

#include "engine/backend.h"
#include "engine/generator.h"
#include "engine/kv_eviction.h"
#include "gtest/gtest.h"
#include "kvcache/cache_io.h"
#include "kvcache/kv_policy_spec.h"
#include "kvcache/policies/evict.h"
#include "nlohmann/json.hpp"
#include "services/compressor/compressor.h"
#include "services/decode/decode_worker.h"
#include "services/kvstore/kv_store.h"
#include "services/prefill/prefiller.h"
#include "tests/util/test_util.h"

namespace kvlab {
namespace {

class CompressedAttentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_ = NewCpuBackend();
    auto m = Model::Load(testing::FixtureDir("tiny-llama3"), *backend_);
    ASSERT_TRUE(m.ok()) << m.status();
    model_ = std::move(*m);
  }

  std::unique_ptr<Backend> backend_;
  std::unique_ptr<Model> model_;
};

TEST_F(CompressedAttentionTest, QueryOverEvictedEntryEqualsMaskedDenseReference) {
  const std::string dir = testing::SourceDir() + "/tools/reference/policies/fixtures/";
  std::ifstream jf(dir + "masked_forward.json");
  nlohmann::json fx = nlohmann::json::parse(jf);
  std::vector<int32_t> ctx = fx["context_ids"].get<std::vector<int32_t>>();
  std::vector<int32_t> query = fx["query_ids"].get<std::vector<int32_t>>();
  const int64_t vocab = model_->config().vocab_size, heads = model_->config().num_kv_heads;
  std::vector<float> want(query.size() * vocab);
  std::ifstream lf(dir + "masked_forward_logits.f32", std::ios::binary);
  lf.read(reinterpret_cast<char*>(want.data()), static_cast<std::streamsize>(want.size() * 4));
  ASSERT_TRUE(lf.good());

  auto cache = model_->NewCache(ctx.size());
  ASSERT_TRUE(model_->Forward(ctx, **cache).ok());
  for (std::string codec_name : {"f32"}) {
    auto codec = MakeCodec(codec_name);
    auto full = ExportCache(**cache, *model_, "test", **codec);
    ASSERT_TRUE(full.ok()) << full.status();
    KeptRows kept;
    for (int64_t l = 0; l < model_->config().num_layers; ++l) {
      for (int64_t h = 0; h < heads; ++h) kept.rows.push_back(fx["kept"][l][h].get<std::vector<int32_t>>());
    }
    auto entry = BuildKeptEntry(*full, kept, **codec);
    ASSERT_TRUE(entry.ok()) << entry.status();
    auto loaded = ImportEntry(*entry, *model_, query.size());
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    EXPECT_EQ((*loaded)->next_position(), static_cast<int64_t>(ctx.size()));
    ForwardOptions all;
    all.all_logits = true;
    auto logits = model_->Forward(query, **loaded, all);
    ASSERT_TRUE(logits.ok()) << logits.status();
    ASSERT_EQ(logits->values.size(), want.size());
    float worst = 0;
    for (size_t i = 0; i < want.size(); ++i) worst = std::max(worst, std::abs(logits->values[i] - want[i]));
    EXPECT_LT(worst, 2e-4f);
    // New tokens got positions n_context + i.
    const auto& pos = (*loaded)->positions(0, 0);
    for (size_t i = 0; i < query.size(); ++i) EXPECT_EQ(pos[pos.size() - query.size() + i], ctx.size() + i);
  }
}

const char kContext[] =
    "<|begin_of_text|>Extract the value corresponding to the specified key in the JSON object below.\n"
    "{\"8a1f\": \"3c9e\", \"b7d2\": \"0f41\", \"c3a9\": \"77e1\"}";

TEST_F(CompressedAttentionTest, EveryPolicyWithCapacityAtLeastTheContextAnswersAsFull) {
  auto tokenizer = std::move(*Tokenizer::FromModelDir(testing::FixtureDir("tiny-llama3")));
  auto store = NewLocalKvStore();
  auto compressor = NewLocalCompressor();
  PrefillOptions popts;
  popts.max_context_tokens = 400;
  auto prefill = NewLocalPrefiller(model_.get(), tokenizer.get(), compressor.get(), store.get(), popts);
  auto decode = NewLocalDecodeWorker(model_.get(), tokenizer.get(), store.get());
  auto answer = [&](const std::string& method) -> std::vector<int32_t> {
    v1::PrefillRequest req;
    req.mutable_context()->set_text(kContext);
    req.set_method_spec(method);
    auto p = prefill->Prefill(req);
    EXPECT_TRUE(p.ok()) << method << ": " << p.status();
    if (!p.ok()) return {};
    v1::AnswerRequest a;
    *a.mutable_handle() = p->handle();
    a.mutable_query()->set_text("\nKey: \"b7d2\"\nValue:");
    a.mutable_generation()->set_max_new_tokens(8);
    auto r = decode->Answer(a);
    EXPECT_TRUE(r.ok()) << method << ": " << r.status();
    if (!r.ok()) return {};
    return std::vector<int32_t>(r->tokens().ids().begin(), r->tokens().ids().end());
  };
  const std::vector<int32_t> full = answer("kv=full");
  ASSERT_FALSE(full.empty());
  for (const char* kv : {"streamingllm{n_sink=4,n_recent=400}", "h2o{heavy=200,recent=200}", "h2o{heavy=0.5,recent=0.5}",
                         "snapkv{capacity=400}", "snapkv{capacity=1.0,pool=max,kernel=7}", "pyramidkv{capacity=400}",
                         "chunkkv{capacity=400,reuse_layers=2}", "snapkv{capacity=400}+f32"}) {
    EXPECT_EQ(answer(std::string("kv=") + kv), full) << kv;
  }
}

TEST_F(CompressedAttentionTest, DecodeStreamingEvictionStaysWithinBudget) {
  std::vector<int32_t> prompt;
  for (int i = 0; i < 40; ++i) prompt.push_back(3 + (i * 37) % 500);
  auto policy = ParseDecodePolicy("streamingllm{n_sink=4,n_recent=12}");
  ASSERT_TRUE(policy.ok());
  auto config = ResolveDecodePolicy(*policy, 40);
  ASSERT_TRUE(config.ok());
  DecodeEvictor evictor(*config);
  auto cache = model_->NewCache(64);
  int64_t steps = 0, worst_before = 0;
  GenerationOptions opts;
  opts.max_new_tokens = 20;
  opts.after_step = [&](KvCache& c) {
    if (steps++ > 0) worst_before = std::max(worst_before, c.max_length());  // decode steps: budget + 1 at most
    auto s = evictor.EvictToBudget(c);
    EXPECT_LE(c.max_length(), 16);
    return s;
  };
  auto r = Generate(*model_, **cache, prompt, nullptr, opts);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(worst_before, 17);
  const auto& pos = (*cache)->positions(1, 1);
  ASSERT_EQ(pos.size(), 16u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(pos[i], i);  // sinks
  EXPECT_TRUE(std::is_sorted(pos.begin(), pos.end()));
  EXPECT_EQ(pos.back(), (*cache)->next_position() - 1);

  // With a budget covering everything, decoding equals no eviction.
  DecodeEvictor roomy(DecodeEvictionConfig{DecodeEvictionConfig::Kind::kStreamingLlm, 4, 100, 0, 0});
  auto c1 = model_->NewCache(64), c2 = model_->NewCache(64);
  GenerationOptions plain;
  plain.max_new_tokens = 10;
  GenerationOptions hooked = plain;
  hooked.after_step = roomy.AsCallback();
  EXPECT_EQ(Generate(*model_, **c1, prompt, nullptr, plain)->tokens,
            Generate(*model_, **c2, prompt, nullptr, hooked)->tokens);
}

TEST_F(CompressedAttentionTest, DecodeH2OAccumulatesStepMassAndStaysWithinBudget) {
  std::vector<int32_t> prompt;
  for (int i = 0; i < 30; ++i) prompt.push_back(5 + (i * 53) % 500);
  DecodeEvictionConfig config{DecodeEvictionConfig::Kind::kH2O, 0, 0, /*heavy=*/8, /*recent=*/6};
  Observation step;
  DecodeEvictor evictor(config, &step);
  auto cache = model_->NewCache(64);
  GenerationOptions opts;
  opts.max_new_tokens = 12;
  opts.step_observation = &step;
  opts.after_step = [&](KvCache& c) {
    EXPECT_FALSE(step.layers.empty());
    EXPECT_FALSE(step.layers[0].attention_mass.empty());
    auto s = evictor.EvictToBudget(c);
    EXPECT_LE(c.max_length(), 14);
    return s;
  };
  auto r = Generate(*model_, **cache, prompt, nullptr, opts);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GT(evictor.evicted_rows(), 0);
  for (int64_t l = 0; l < (*cache)->num_layers(); ++l) {
    for (int64_t h = 0; h < (*cache)->num_kv_heads(); ++h) {
      const auto& pos = (*cache)->positions(l, h);
      EXPECT_EQ(pos.size(), 14u);
      EXPECT_TRUE(std::is_sorted(pos.begin(), pos.end()));
      EXPECT_EQ(pos.back(), (*cache)->next_position() - 1);
    }
  }
  // The kept-row rule itself: recent rows plus the heaviest older ones.
  std::vector<float> mass = {5, 1, 7, 0, 3, 9, 2, 2};
  DecodeEvictionConfig small{DecodeEvictionConfig::Kind::kH2O, 0, 0, 3, 2};
  EXPECT_EQ(DecodeKeptRows(small, 8, mass), (std::vector<int64_t>{0, 2, 5, 6, 7}));
  EXPECT_EQ(DecodeKeptRows(small, 8, {}), (std::vector<int64_t>{0, 1, 2, 6, 7}));  // no mass: keep the oldest
}

}  // namespace
}  // namespace kvlab
