// The shipped trained model (models/kvlab-tiny-v1, issue 9) loads through the
// engine with the fingerprint and the greedy answers that independent
// references give (tools/train_tiny/golden.py: the fingerprint recomputed in
// Python, answers from tools/reference's forward pass). Whether the answers
// are right is the evaluator's business (its README gives the scores).
#include "common/json_file.h"
#include "engine/backend.h"
#include "engine/generator.h"
#include "engine/model.h"
#include "gtest/gtest.h"
#include "tests/util/test_util.h"

namespace kvlab {
namespace {

std::string ShippedModelDir() { return testing::SourceDir() + "/models/kvlab-tiny-v1"; }

class ShippedModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_ = NewCpuBackend();
    auto model = Model::Load(ShippedModelDir(), *backend_);
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = std::move(*model);
    auto golden = ReadJsonFile(ShippedModelDir() + "/golden.json");
    ASSERT_TRUE(golden.ok()) << golden.status();
    golden_ = std::move(*golden);
  }

  std::unique_ptr<Backend> backend_;
  std::unique_ptr<Model> model_;
  nlohmann::json golden_;
};

TEST_F(ShippedModelTest, FingerprintMatchesTheIndependentComputation) {
  EXPECT_EQ(model_->fingerprint().ToHex(), golden_["fingerprint"].get<std::string>());
}

TEST_F(ShippedModelTest, GreedyAnswersMatchTheReferenceForwardPass) {
  const auto& prompts = golden_["prompts"];
  ASSERT_GE(prompts.size(), 4u);
  for (const auto& p : prompts) {
    std::vector<int32_t> ids = p["prompt_ids"].get<std::vector<int32_t>>();
    auto cache = model_->NewCache(static_cast<int64_t>(ids.size()) + 64);
    ASSERT_TRUE(cache.ok()) << cache.status();
    GenerationOptions opts;
    opts.max_new_tokens = golden_["max_new_tokens"].get<int64_t>();
    opts.eos_ids = model_->config().eos_token_ids;
    auto r = Generate(*model_, **cache, ids, /*tokenizer=*/nullptr, opts);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->tokens, p["reference_greedy_ids"].get<std::vector<int32_t>>())
        << p["task"] << " sample " << p["index"];
  }
}

}  // namespace
}  // namespace kvlab
