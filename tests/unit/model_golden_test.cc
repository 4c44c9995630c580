// The engine's logits against golden logits from the independent PyTorch
// reference (tools/reference/reference_model.py) for the three fixture models.
#include <cmath>
#include <fstream>

#include "common/json_file.h"
#include "engine/backend.h"
#include "engine/model.h"
#include "gtest/gtest.h"
#include "tests/util/test_util.h"

namespace kvlab {
namespace {

constexpr float kTolerance = 1e-4f;

struct Golden {
  std::vector<int32_t> input_ids, decode_ids;
  int64_t rows = 0, vocab = 0;
  std::vector<float> logits;
};

Golden LoadGolden(const std::string& dir) {
  Golden g;
  auto doc = ReadJsonFile(dir + "/golden.json");
  EXPECT_TRUE(doc.ok()) << doc.status();
  g.input_ids = (*doc)["input_ids"].get<std::vector<int32_t>>();
  g.decode_ids = (*doc)["decode_ids"].get<std::vector<int32_t>>();
  g.rows = (*doc)["shape"][0].get<int64_t>();
  g.vocab = (*doc)["shape"][1].get<int64_t>();
  g.logits.resize(g.rows * g.vocab);
  std::ifstream in(dir + "/" + (*doc)["logits_file"].get<std::string>(), std::ios::binary);
  in.read(reinterpret_cast<char*>(g.logits.data()), g.logits.size() * sizeof(float));
  EXPECT_TRUE(in.good());
  return g;
}

float MaxAbsDiff(std::span<const float> a, std::span<const float> b) {
  EXPECT_EQ(a.size(), b.size());
  float m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

class ModelGoldenTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = testing::FixtureDir(GetParam());
    backend_ = NewCpuBackend();
    auto model = Model::Load(dir_, *backend_);
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = std::move(*model);
    golden_ = LoadGolden(dir_);
    ASSERT_EQ(golden_.vocab, model_->config().vocab_size);
  }

  std::span<const float> GoldenRow(int64_t r) const {
    return std::span<const float>(golden_.logits).subspan(r * golden_.vocab, golden_.vocab);
  }

  std::string dir_;
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<Model> model_;
  Golden golden_;
};

TEST_P(ModelGoldenTest, PrefillThenDecodeStepsMatchReference) {
  auto cache = model_->NewCache(8);  // deliberately small: must grow
  ASSERT_TRUE(cache.ok());
  ForwardOptions opts;
  opts.all_logits = true;
  auto prefill = model_->Forward(golden_.input_ids, **cache, opts);
  ASSERT_TRUE(prefill.ok()) << prefill.status();
  const int64_t n = golden_.input_ids.size();
  ASSERT_EQ(prefill->rows, n);
  for (int64_t t = 0; t < n; ++t) {
    ASSERT_LE(MaxAbsDiff(prefill->Row(t), GoldenRow(t)), kTolerance) << "prefill row " << t;
  }
  for (size_t i = 0; i < golden_.decode_ids.size(); ++i) {
    const int32_t id[1] = {golden_.decode_ids[i]};
    auto step = model_->Forward(id, **cache);
    ASSERT_TRUE(step.ok()) << step.status();
    ASSERT_EQ(step->rows, 1);
    EXPECT_LE(MaxAbsDiff(step->Row(0), GoldenRow(n + i)), kTolerance) << "decode step " << i;
  }
  EXPECT_EQ((*cache)->next_position(), golden_.rows);
}

TEST_P(ModelGoldenTest, ChunkedPrefillMatchesReference) {
  auto cache = model_->NewCache(64);
  ASSERT_TRUE(cache.ok());
  ForwardOptions opts;
  opts.all_logits = true;
  opts.chunk_tokens = 7;  // chunks that do not divide the prompt
  std::vector<int32_t> all = golden_.input_ids;
  all.insert(all.end(), golden_.decode_ids.begin(), golden_.decode_ids.end());
  auto out = model_->Forward(all, **cache, opts);
  ASSERT_TRUE(out.ok()) << out.status();
  for (int64_t t = 0; t < golden_.rows; ++t) {
    ASSERT_LE(MaxAbsDiff(out->Row(t), GoldenRow(t)), kTolerance) << "row " << t;
  }
}

TEST_P(ModelGoldenTest, DecodeWithCacheEqualsRecomputation) {
  // Feed the prompt, then the decode ids in uneven pieces; the last logits
  // must equal a from-scratch forward over the whole sequence.
  std::vector<int32_t> all = golden_.input_ids;
  all.insert(all.end(), golden_.decode_ids.begin(), golden_.decode_ids.end());
  auto scratch_cache = model_->NewCache(all.size());
  auto scratch = model_->Forward(all, **scratch_cache);
  ASSERT_TRUE(scratch.ok());

  auto cache = model_->NewCache(4);
  std::span<const int32_t> rest(all);
  ASSERT_TRUE(model_->Forward(rest.subspan(0, 30), **cache).ok());
  ASSERT_TRUE(model_->Forward(rest.subspan(30, 21), **cache).ok());
  auto last = model_->Forward(rest.subspan(51), **cache);
  ASSERT_TRUE(last.ok());
  EXPECT_LE(MaxAbsDiff(last->Row(0), scratch->Row(0)), 1e-5f);
  EXPECT_EQ((*cache)->tokens(), all);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ModelGoldenTest,
                         ::testing::Values("tiny-llama3", "tiny-mistral", "tiny-qwen2"));

TEST(ModelTest, RejectsBadTokensAndEmptyInput) {
  auto backend = NewCpuBackend();
  auto model = Model::Load(testing::FixtureDir("tiny-qwen2"), *backend);
  ASSERT_TRUE(model.ok());
  auto cache = (*model)->NewCache(16);
  std::vector<int32_t> bad = {1, 2, 512};
  auto r = (*model)->Forward(bad, **cache);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("512"), std::string::npos);
  std::vector<int32_t> neg = {-1};
  EXPECT_EQ((*model)->Forward(neg, **cache).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*model)->Forward({}, **cache).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ModelTest, RejectsCacheOfAnotherModelShape) {
  auto backend = NewCpuBackend();
  auto llama = Model::Load(testing::FixtureDir("tiny-llama3"), *backend);
  auto qwen = Model::Load(testing::FixtureDir("tiny-qwen2"), *backend);
  ASSERT_TRUE(llama.ok() && qwen.ok());
  auto cache = (*llama)->NewCache(16);
  std::vector<int32_t> ids = {1, 2, 3};
  EXPECT_EQ((*qwen)->Forward(ids, **cache).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kvlab
