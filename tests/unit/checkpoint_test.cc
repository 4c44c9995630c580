// Loading checkpoints: sharded/single files, dtypes, fingerprints, and every
// kind of bad input giving a clear error that names the file.
#include <filesystem>

#include "common/json_file.h"
#include "engine/backend.h"
#include "engine/checkpoint.h"
#include "engine/fingerprint.h"
#include "engine/model.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/util/test_util.h"

namespace kvlab {
namespace {

using ::testing::HasSubstr;
using testing::CopyDir;
using testing::FixtureDir;
using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

absl::Status LoadStatus(const std::string& dir) {
  auto backend = NewCpuBackend();
  return Model::Load(dir, *backend).status();
}

TEST(CheckpointTest, OpensShardedAndSingleFileModels) {
  auto sharded = Checkpoint::Open(FixtureDir("tiny-llama3"));
  ASSERT_TRUE(sharded.ok()) << sharded.status();
  EXPECT_EQ((*sharded)->config().architecture, Architecture::kLlama);
  EXPECT_EQ((*sharded)->config().rope_scaling.type, RopeScaling::Type::kLlama3);
  EXPECT_THAT((*sharded)->FileOf("model.embed_tokens.weight"), HasSubstr("model-0000"));
  EXPECT_EQ((*sharded)->tensors().at("model.norm.weight")->dtype, DType::kBF16);

  auto mistral = Checkpoint::Open(FixtureDir("tiny-mistral"));
  ASSERT_TRUE(mistral.ok());
  EXPECT_EQ((*mistral)->config().sliding_window, 24);
  EXPECT_EQ((*mistral)->tensors().at("model.norm.weight")->dtype, DType::kF16);

  auto qwen = Checkpoint::Open(FixtureDir("tiny-qwen2"));
  ASSERT_TRUE(qwen.ok());
  EXPECT_TRUE((*qwen)->config().tie_word_embeddings);
  EXPECT_TRUE((*qwen)->config().attention_bias);
  EXPECT_EQ((*qwen)->tensors().count("lm_head.weight"), 0u);
}

TEST(CheckpointTest, Llama3RopeScalingChangesLowFrequenciesOnly) {
  auto cfg = ModelConfig::FromModelDir(FixtureDir("tiny-llama3"));
  ASSERT_TRUE(cfg.ok());
  ModelConfig unscaled = *cfg;
  unscaled.rope_scaling = RopeScaling();
  auto a = cfg->RopeInverseFrequencies(), b = unscaled.RopeInverseFrequencies();
  ASSERT_EQ(a.size(), b.size());
  EXPECT_DOUBLE_EQ(a[0], b[0]);  // highest frequency untouched
  EXPECT_NEAR(a.back(), b.back() / cfg->rope_scaling.factor, 1e-15);  // lowest divided by factor
}

TEST(FingerprintTest, StableAcrossLoadsAndSensitiveToEveryByte) {
  auto a = Checkpoint::Open(FixtureDir("tiny-qwen2"));
  auto b = Checkpoint::Open(FixtureDir("tiny-qwen2"));
  ASSERT_TRUE(a.ok() && b.ok());
  const Hash128 fa = ComputeFingerprint(**a);
  EXPECT_EQ(fa, ComputeFingerprint(**b));
  EXPECT_EQ(fa.ToHex().size(), 32u);

  auto other = Checkpoint::Open(FixtureDir("tiny-llama3"));
  ASSERT_TRUE(other.ok());
  EXPECT_NE(fa, ComputeFingerprint(**other));

  // Flip one byte of the last tensor's data (end of the file).
  TempDir tmp;
  CopyDir(FixtureDir("tiny-qwen2"), tmp.path());
  std::string bytes = ReadFile(tmp.Join("model.safetensors"));
  bytes[bytes.size() - 3] ^= 0x01;
  WriteFile(tmp.Join("model.safetensors"), bytes);
  auto flipped = Checkpoint::Open(tmp.path());
  ASSERT_TRUE(flipped.ok());
  EXPECT_NE(fa, ComputeFingerprint(**flipped));

  // A config change that alters the architecture changes it too.
  TempDir tmp2;
  CopyDir(FixtureDir("tiny-qwen2"), tmp2.path());
  auto cfg = ReadJsonFile(tmp2.Join("config.json"));
  (*cfg)["rms_norm_eps"] = 1e-5;
  WriteFile(tmp2.Join("config.json"), cfg->dump());
  auto eps = Checkpoint::Open(tmp2.path());
  ASSERT_TRUE(eps.ok());
  EXPECT_NE(fa, ComputeFingerprint(**eps));
}

TEST(CheckpointTest, ModelFingerprintEqualsCheckpointFingerprint) {
  auto backend = NewCpuBackend();
  auto model = Model::Load(FixtureDir("tiny-mistral"), *backend);
  auto ckpt = Checkpoint::Open(FixtureDir("tiny-mistral"));
  ASSERT_TRUE(model.ok() && ckpt.ok());
  EXPECT_EQ((*model)->fingerprint(), ComputeFingerprint(**ckpt));
}

// --- bad input -------------------------------------------------------------

TEST(CheckpointBadInputTest, MissingDirectory) {
  absl::Status s = LoadStatus("/nonexistent/kvlab-model");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr("/nonexistent/kvlab-model"));
}

TEST(CheckpointBadInputTest, MissingConfig) {
  TempDir tmp;
  CopyDir(FixtureDir("tiny-qwen2"), tmp.path());
  std::filesystem::remove(tmp.Join("config.json"));
  absl::Status s = LoadStatus(tmp.path());
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr("config.json"));
}

TEST(CheckpointBadInputTest, MissingWeights) {
  TempDir tmp;
  CopyDir(FixtureDir("tiny-qwen2"), tmp.path());
  std::filesystem::remove(tmp.Join("model.safetensors"));
  absl::Status s = LoadStatus(tmp.path());
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr("model.safetensors"));
}

TEST(CheckpointBadInputTest, MissingShard) {
  TempDir tmp;
  CopyDir(FixtureDir("tiny-llama3"), tmp.path());
  std::filesystem::remove(tmp.Join("model-00002-of-00002.safetensors"));
  absl::Status s = LoadStatus(tmp.path());
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr("model-00002-of-00002.safetensors"));
}

TEST(CheckpointBadInputTest, UnsupportedArchitecture) {
  TempDir tmp;
  CopyDir(FixtureDir("tiny-qwen2"), tmp.path());
  auto cfg = ReadJsonFile(tmp.Join("config.json"));
  (*cfg)["architectures"] = {"GPT2LMHeadModel"};
  WriteFile(tmp.Join("config.json"), cfg->dump());
  absl::Status s = LoadStatus(tmp.path());
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(s.message(), HasSubstr("GPT2LMHeadModel"));
  EXPECT_THAT(s.message(), HasSubstr("config.json"));
}

TEST(CheckpointBadInputTest, MalformedConfigJson) {
  TempDir tmp;
  CopyDir(FixtureDir("tiny-qwen2"), tmp.path());
  WriteFile(tmp.Join("config.json"), "{\"architectures\": [\"Qwen2ForCausalLM\"], ");
  absl::Status s = LoadStatus(tmp.path());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("malformed JSON"));
  EXPECT_THAT(s.message(), HasSubstr("config.json"));
}

TEST(CheckpointBadInputTest, InconsistentConfig) {
  TempDir tmp;
  CopyDir(FixtureDir("tiny-qwen2"), tmp.path());
  auto cfg = ReadJsonFile(tmp.Join("config.json"));
  (*cfg)["num_key_value_heads"] = 3;
  WriteFile(tmp.Join("config.json"), cfg->dump());
  absl::Status s = LoadStatus(tmp.path());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("num_key_value_heads"));
}

// Absurd sizes are refused before anything is allocated for them (a
// config.json with num_hidden_layers = 1e9 used to abort with bad_alloc).
TEST(CheckpointBadInputTest, AbsurdSizesAreRefused) {
  for (const char* key : {"num_hidden_layers", "vocab_size", "hidden_size", "intermediate_size"}) {
    TempDir tmp;
    CopyDir(FixtureDir("tiny-qwen2"), tmp.path());
    auto cfg = ReadJsonFile(tmp.Join("config.json"));
    (*cfg)[key] = 1000000000;
    WriteFile(tmp.Join("config.json"), cfg->dump());
    absl::Status s = LoadStatus(tmp.path());
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << key << ": " << s;
    EXPECT_THAT(s.message(), HasSubstr(key));
  }
}

TEST(CheckpointBadInputTest, TensorMissing) {
  TempDir tmp;
  CopyDir(FixtureDir("tiny-qwen2"), tmp.path());
  auto cfg = ReadJsonFile(tmp.Join("config.json"));
  (*cfg)["tie_word_embeddings"] = false;  // now lm_head.weight is required
  WriteFile(tmp.Join("config.json"), cfg->dump());
  absl::Status s = LoadStatus(tmp.path());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("lm_head.weight"));
  EXPECT_THAT(s.message(), HasSubstr("missing"));
}

TEST(CheckpointBadInputTest, TensorOfWrongShape) {
  TempDir tmp;
  CopyDir(FixtureDir("tiny-qwen2"), tmp.path());
  auto cfg = ReadJsonFile(tmp.Join("config.json"));
  (*cfg)["intermediate_size"] = 100;
  WriteFile(tmp.Join("config.json"), cfg->dump());
  absl::Status s = LoadStatus(tmp.path());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("mlp"));
  EXPECT_THAT(s.message(), HasSubstr("shape"));
  EXPECT_THAT(s.message(), HasSubstr("model.safetensors"));
}

TEST(CheckpointBadInputTest, TruncatedSafetensors) {
  TempDir tmp;
  CopyDir(FixtureDir("tiny-qwen2"), tmp.path());
  std::string bytes = ReadFile(tmp.Join("model.safetensors"));
  WriteFile(tmp.Join("model.safetensors"), bytes.substr(0, bytes.size() - 1000));
  absl::Status s = LoadStatus(tmp.path());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("truncated"));
  EXPECT_THAT(s.message(), HasSubstr("model.safetensors"));

  WriteFile(tmp.Join("model.safetensors"), bytes.substr(0, 5));
  s = LoadStatus(tmp.path());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("truncated"));

  WriteFile(tmp.Join("model.safetensors"), bytes.substr(0, 100));  // header cut short
  s = LoadStatus(tmp.path());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("truncated"));
}

TEST(CheckpointBadInputTest, MalformedSafetensorsHeader) {
  TempDir tmp;
  CopyDir(FixtureDir("tiny-qwen2"), tmp.path());
  std::string header = "{\"a\": [1, 2";
  std::string bytes(8, '\0');
  bytes[0] = static_cast<char>(header.size());
  WriteFile(tmp.Join("model.safetensors"), bytes + header);
  absl::Status s = LoadStatus(tmp.path());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("malformed JSON header"));
  EXPECT_THAT(s.message(), HasSubstr("model.safetensors"));
}

TEST(CheckpointBadInputTest, UnsupportedTensorDtype) {
  TempDir tmp;
  CopyDir(FixtureDir("tiny-qwen2"), tmp.path());
  std::string header = R"({"model.norm.weight":{"dtype":"I8","shape":[4],"data_offsets":[0,4]}})";
  std::string bytes(8, '\0');
  bytes[0] = static_cast<char>(header.size());
  WriteFile(tmp.Join("model.safetensors"), bytes + header + std::string(4, '\0'));
  absl::Status s = LoadStatus(tmp.path());
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(s.message(), HasSubstr("I8"));
}

TEST(CheckpointBadInputTest, InconsistentTensorOffsets) {
  TempDir tmp;
  CopyDir(FixtureDir("tiny-qwen2"), tmp.path());
  std::string header = R"({"model.norm.weight":{"dtype":"F32","shape":[4],"data_offsets":[0,12]}})";
  std::string bytes(8, '\0');
  bytes[0] = static_cast<char>(header.size());
  WriteFile(tmp.Join("model.safetensors"), bytes + header + std::string(12, '\0'));
  absl::Status s = LoadStatus(tmp.path());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("model.norm.weight"));
}

TEST(CheckpointBadInputTest, IndexNamingAFileThatLacksTheTensor) {
  TempDir tmp;
  CopyDir(FixtureDir("tiny-llama3"), tmp.path());
  auto index = ReadJsonFile(tmp.Join("model.safetensors.index.json"));
  auto& map = (*index)["weight_map"];
  // Point a tensor at the other shard.
  std::string name = map.begin().key();
  std::string shard = map.begin().value();
  map[name] = shard == "model-00001-of-00002.safetensors" ? "model-00002-of-00002.safetensors"
                                                          : "model-00001-of-00002.safetensors";
  WriteFile(tmp.Join("model.safetensors.index.json"), index->dump());
  absl::Status s = LoadStatus(tmp.path());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr(name));
}

}  // namespace
}  // namespace kvlab
