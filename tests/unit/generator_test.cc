// Greedy generation: cached decoding equals recomputation, and the stopping
// rules (max_new_tokens, eos, stop strings) hold.
#include "engine/backend.h"
#include "engine/generator.h"
#include "engine/model.h"
#include "engine/tokenizer/chat_template.h"
#include "engine/tokenizer/tokenizer.h"
#include "gtest/gtest.h"
#include "tests/util/test_util.h"

namespace kvlab {
namespace {

class GeneratorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_ = NewCpuBackend();
    auto model = Model::Load(testing::FixtureDir("tiny-llama3"), *backend_);
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = std::move(*model);
    auto tok = Tokenizer::FromModelDir(testing::FixtureDir("tiny-llama3"));
    ASSERT_TRUE(tok.ok()) << tok.status();
    tokenizer_ = std::move(*tok);
    auto ids = tokenizer_->Encode("The pass key is 71432. Remember it.", /*add_special_tokens=*/true);
    ASSERT_TRUE(ids.ok());
    prompt_ = *ids;
  }

  GenerationResult Run(const GenerationOptions& opts, int64_t* cache_tokens = nullptr) {
    auto cache = model_->NewCache(4);
    auto r = Generate(*model_, **cache, prompt_, tokenizer_.get(), opts);
    EXPECT_TRUE(r.ok()) << r.status();
    if (cache_tokens) *cache_tokens = (*cache)->next_position();
    return *r;
  }

  std::unique_ptr<Backend> backend_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::vector<int32_t> prompt_;
};

TEST_F(GeneratorTest, CachedGreedyEqualsRecomputationFromScratch) {
  GenerationOptions opts;
  opts.max_new_tokens = 12;
  int64_t cache_tokens = 0;
  GenerationResult r = Run(opts, &cache_tokens);
  ASSERT_EQ(r.tokens.size(), 12u);
  EXPECT_EQ(r.finish, GenerationResult::Finish::kLength);
  // The final token is returned but not fed.
  EXPECT_EQ(cache_tokens, static_cast<int64_t>(prompt_.size()) + 11);
  std::vector<int32_t> seq = prompt_;
  for (int32_t expected : r.tokens) {
    auto cache = model_->NewCache(seq.size());
    auto logits = model_->Forward(seq, **cache);
    ASSERT_TRUE(logits.ok());
    ASSERT_EQ(Argmax(logits->Row(0)), expected);
    seq.push_back(expected);
  }
  auto text = tokenizer_->Decode(r.tokens, /*skip_special_tokens=*/true);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(r.text, *text);
  EXPECT_GT(r.prefill_seconds, 0);
}

TEST_F(GeneratorTest, StopsAtEosWithoutIncludingIt) {
  GenerationOptions opts;
  opts.max_new_tokens = 12;
  GenerationResult full = Run(opts);
  opts.eos_ids = {full.tokens[3]};
  // The eos may also occur earlier in the sequence.
  size_t first = std::find(full.tokens.begin(), full.tokens.end(), full.tokens[3]) - full.tokens.begin();
  GenerationResult r = Run(opts);
  EXPECT_EQ(r.finish, GenerationResult::Finish::kEos);
  ASSERT_EQ(r.tokens.size(), first + 1);
  std::vector<int32_t> before(full.tokens.begin(), full.tokens.begin() + first);
  EXPECT_EQ(r.text, *tokenizer_->Decode(before, true));
}

TEST_F(GeneratorTest, StopStringCutsTheText) {
  GenerationOptions opts;
  opts.max_new_tokens = 12;
  GenerationResult full = Run(opts);
  ASSERT_GE(full.text.size(), 4u);
  const std::string stop = full.text.substr(full.text.size() / 2, 1);
  opts.stop_strings = {stop};
  GenerationResult r = Run(opts);
  EXPECT_EQ(r.finish, GenerationResult::Finish::kStop);
  EXPECT_EQ(r.text, full.text.substr(0, full.text.find(stop)));
  EXPECT_LE(r.tokens.size(), full.tokens.size());
}

TEST_F(GeneratorTest, RejectsBadArguments) {
  auto cache = model_->NewCache(4);
  GenerationOptions opts;
  EXPECT_EQ(Generate(*model_, **cache, {}, tokenizer_.get(), opts).status().code(),
            absl::StatusCode::kInvalidArgument);
  opts.max_new_tokens = 0;
  EXPECT_EQ(Generate(*model_, **cache, prompt_, tokenizer_.get(), opts).status().code(),
            absl::StatusCode::kInvalidArgument);
  opts.max_new_tokens = 2;
  opts.stop_strings = {"x"};
  EXPECT_EQ(Generate(*model_, **cache, prompt_, nullptr, opts).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(GeneratorTest, FixtureTokenizerAndChatTemplateWork) {
  const std::string text = "VAR ABCDE = 12345 and {\"8a1f\": \"3c9e\"}\n  indented";
  auto ids = tokenizer_->Encode(text, false);
  ASSERT_TRUE(ids.ok());
  EXPECT_LT(ids->size(), text.size());  // merges apply
  EXPECT_EQ(*tokenizer_->Decode(*ids, false), text);
  auto tmpl = ChatTemplate::FromModelDir(testing::FixtureDir("tiny-llama3"));
  ASSERT_TRUE(tmpl.ok()) << tmpl.status();
  std::vector<ChatMessage> msgs = {{"user", "hi"}};
  EXPECT_EQ(*tmpl->Render(msgs, true),
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

}  // namespace
}  // namespace kvlab
