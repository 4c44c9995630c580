// Whole models on the CUDA backend: the fixtures' golden logits (from the
// independent PyTorch reference), greedy answers of the shipped tiny model
// equal to the CPU backend's, and sparse prefill with the same pair counts.
#include <fstream>
#include <string>
#include <vector>

#include "common/json_file.h"
#include "engine/generator.h"
#include "engine/model.h"
#include "tests/gpu/gpu_test_util.h"
#include "tests/util/test_util.h"

namespace kvlab {
namespace {

using testing::MaxError;

struct Loaded {
  std::unique_ptr<Backend> backend;
  std::unique_ptr<Model> model;
};

Loaded LoadOn(std::unique_ptr<Backend> backend, const std::string& dir) {
  Loaded l;
  l.backend = std::move(backend);
  auto model = Model::Load(dir, *l.backend);
  EXPECT_TRUE(model.ok()) << model.status();
  if (model.ok()) l.model = std::move(*model);
  return l;
}

std::unique_ptr<Backend> Cuda(DType kv) {
  auto b = NewCudaBackend(testing::CudaOptions(kv));
  EXPECT_TRUE(b.ok()) << b.status();
  return b.ok() ? std::move(*b) : nullptr;
}

class CudaGoldenTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { KVLAB_SKIP_WITHOUT_GPU(); }
};

// The fixture's prompt + decode ids fed at once; every row's logits against
// the reference: tight with an f32 KV cache, bf16 tolerance with bf16 KV.
TEST_P(CudaGoldenTest, LogitsMatchTheReference) {
  const std::string dir = testing::FixtureDir(GetParam());
  auto doc = ReadJsonFile(dir + "/golden.json");
  ASSERT_TRUE(doc.ok()) << doc.status();
  std::vector<int32_t> ids = (*doc)["input_ids"].get<std::vector<int32_t>>();
  const auto decode = (*doc)["decode_ids"].get<std::vector<int32_t>>();
  ids.insert(ids.end(), decode.begin(), decode.end());
  const int64_t rows = (*doc)["shape"][0].get<int64_t>(), vocab = (*doc)["shape"][1].get<int64_t>();
  std::vector<float> golden(rows * vocab);
  std::ifstream in(dir + "/" + (*doc)["logits_file"].get<std::string>(), std::ios::binary);
  in.read(reinterpret_cast<char*>(golden.data()), golden.size() * sizeof(float));
  ASSERT_TRUE(in.good());
  for (DType kv : {DType::kF32, DType::kBF16}) {
    Loaded l = LoadOn(Cuda(kv), dir);
    ASSERT_NE(l.model, nullptr);
    auto cache = l.model->NewCache(8);  // must grow on the device
    ASSERT_TRUE(cache.ok());
    ForwardOptions opts;
    opts.all_logits = true;
    opts.chunk_tokens = 13;
    auto out = l.model->Forward(ids, **cache, opts);
    ASSERT_TRUE(out.ok()) << out.status();
    ASSERT_EQ(out->rows, rows);
    EXPECT_LE(MaxError(out->values, golden), kv == DType::kF32 ? 1e-3f : 3e-2f) << DTypeName(kv) << " KV";
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, CudaGoldenTest, ::testing::Values("tiny-llama3", "tiny-mistral", "tiny-qwen2"));

class CudaShippedModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KVLAB_SKIP_WITHOUT_GPU();
    dir_ = testing::SourceDir() + "/models/kvlab-tiny-v1";
    auto golden = ReadJsonFile(dir_ + "/golden.json");
    ASSERT_TRUE(golden.ok()) << golden.status();
    golden_ = std::move(*golden);
    cpu_ = LoadOn(NewCpuBackend(), dir_);
    ASSERT_NE(cpu_.model, nullptr);
  }

  // 20 prompts: the golden prompts and cuts of them at several lengths.
  std::vector<std::vector<int32_t>> Prompts() const {
    std::vector<std::vector<int32_t>> base, out;
    for (const auto& p : golden_["prompts"]) base.push_back(p["prompt_ids"].get<std::vector<int32_t>>());
    for (size_t i = 0; out.size() < 20; ++i) {
      const auto& b = base[i % base.size()];
      const size_t round = i / base.size();
      const size_t len = round == 0 ? b.size() : std::max<size_t>(8, b.size() * (10 - round) / 10);
      out.emplace_back(b.begin(), b.begin() + len);
    }
    return out;
  }

  std::vector<int32_t> Greedy(const Model& m, const std::vector<int32_t>& prompt) const {
    auto cache = m.NewCache(static_cast<int64_t>(prompt.size()) + 64);
    EXPECT_TRUE(cache.ok());
    GenerationOptions opts;
    opts.max_new_tokens = golden_["max_new_tokens"].get<int64_t>();
    opts.eos_ids = m.config().eos_token_ids;
    auto r = Generate(m, **cache, prompt, /*tokenizer=*/nullptr, opts);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->tokens : std::vector<int32_t>{};
  }

  std::string dir_;
  nlohmann::json golden_;
  Loaded cpu_;
};

TEST_F(CudaShippedModelTest, GreedyIdsEqualTheCpuBackendOnTwentyPrompts) {
  for (DType kv : {DType::kF32, DType::kBF16}) {
    Loaded gpu = LoadOn(Cuda(kv), dir_);
    ASSERT_NE(gpu.model, nullptr);
    EXPECT_EQ(gpu.model->fingerprint(), cpu_.model->fingerprint());
    int same = 0, total = 0;
    for (const auto& prompt : Prompts()) {
      const auto want = Greedy(*cpu_.model, prompt), got = Greedy(*gpu.model, prompt);
      same += got == want;
      ++total;
      if (kv == DType::kF32) {
        EXPECT_EQ(got, want) << "prompt of " << prompt.size() << " tokens";
      }
    }
    // bf16 KV rounds every key and value: allow one near-tie to flip.
    if (kv == DType::kBF16) {
      EXPECT_GE(same, total - 1) << same << " of " << total << " equal with bf16 KV";
    }
  }
}

TEST_F(CudaShippedModelTest, SparsePrefillComputesTheSamePairs) {
  Loaded gpu = LoadOn(Cuda(DType::kBF16), dir_);
  ASSERT_NE(gpu.model, nullptr);
  const auto prompt = Prompts()[0];
  for (const char* spec : {"a_shape{n_init=16,n_local=64}", "tri_shape{n_init=16,n_local=64,n_last=32}",
                           "vertical_slash{n_vertical=30,n_slash=50,last_q=32}"}) {
    auto pattern = ParsePrefillPattern(spec);
    ASSERT_TRUE(pattern.ok());
    ForwardStats cs, gs;
    ForwardOptions opts;
    opts.pattern = &*pattern;
    opts.observe.window = 8;
    opts.observe.attention_mass = true;
    Observation co, go;
    opts.stats = &cs;
    opts.observation = &co;
    auto cc = cpu_.model->NewCache(prompt.size());
    auto cl = cpu_.model->Forward(prompt, **cc, opts);
    opts.stats = &gs;
    opts.observation = &go;
    auto gc = gpu.model->NewCache(prompt.size());
    auto gl = gpu.model->Forward(prompt, **gc, opts);
    ASSERT_TRUE(cl.ok() && gl.ok()) << spec;
    EXPECT_EQ(gs.computed_pairs, cs.computed_pairs) << spec;
    EXPECT_EQ(gs.causal_pairs, cs.causal_pairs) << spec;
    EXPECT_LE(MaxError(gl->values, cl->values), 3e-2f) << spec;
    for (size_t l = 0; l < co.layers.size(); ++l) {
      EXPECT_LE(MaxError(go.layers[l].window_queries, co.layers[l].window_queries), 1e-2f) << spec;
      EXPECT_LE(MaxError(go.layers[l].attention_mass, co.layers[l].attention_mass), 3e-2f) << spec;
    }
  }
}

}  // namespace
}  // namespace kvlab
