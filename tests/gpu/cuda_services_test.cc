// The services in one process on the CUDA backend, with the kvstore's device
// tier: prefill computes on the GPU, the entry lives in device memory, decode
// answers from it; the answers equal the CPU pipeline's and the results say
// which backend computed them.
#include "engine/generator.h"
#include "services/compressor/compressor.h"
#include "services/decode/decode_worker.h"
#include "services/kvstore/tiered_store.h"
#include "services/prefill/prefiller.h"
#include "tests/gpu/gpu_test_util.h"
#include "tests/util/test_util.h"

namespace kvlab {
namespace {

// One in-process pipeline on `backend`.
struct Pipeline {
  std::unique_ptr<Backend> backend;
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;
  std::unique_ptr<TieredKvStore> store;
  std::unique_ptr<Compressor> compressor;
  std::unique_ptr<Prefiller> prefill;
  std::unique_ptr<DecodeWorker> decode;
};

Pipeline Make(std::unique_ptr<Backend> backend, int64_t device_bytes) {
  const std::string dir = testing::FixtureDir("tiny-llama3");
  Pipeline p;
  p.backend = std::move(backend);
  p.model = std::move(*Model::Load(dir, *p.backend));
  p.tokenizer = std::move(*Tokenizer::FromModelDir(dir));
  TieredStoreOptions options;
  options.device_capacity_bytes = device_bytes;
  options.host_capacity_bytes = 64ll << 20;
  auto store = NewTieredKvStore(options);
  EXPECT_TRUE(store.ok()) << store.status();
  p.store = std::move(*store);
  p.compressor = NewLocalCompressor();
  p.prefill = NewLocalPrefiller(p.model.get(), p.tokenizer.get(), p.compressor.get(), p.store.get());
  p.decode = NewLocalDecodeWorker(p.model.get(), p.tokenizer.get(), p.store.get());
  return p;
}

const char kContext[] =
    "<|begin_of_text|>Extract the value corresponding to the specified key in the JSON object below.\n"
    "{\"8a1f\": \"3c9e\", \"b7d2\": \"0f41\", \"c3a9\": \"77e1\"}";

TEST(CudaServicesTest, DeviceTierServesEntriesComputedOnTheGpu) {
  KVLAB_SKIP_WITHOUT_GPU();
  auto gpu_backend = NewCudaBackend({});
  ASSERT_TRUE(gpu_backend.ok()) << gpu_backend.status();
  Pipeline gpu = Make(std::move(*gpu_backend), 256ll << 20);
  Pipeline cpu = Make(NewCpuBackend(), 0);
  for (const char* method : {"kv=full", "prefill=a_shape{n_init=8,n_local=16};kv=snapkv{capacity=24,window=8}",
                             "kv=kivi{bits=4,group=32,residual=16}"}) {
    SCOPED_TRACE(method);
    v1::PrefillRequest req;
    req.mutable_context()->set_text(kContext);
    req.set_method_spec(method);
    auto g = gpu.prefill->Prefill(req);
    auto c = cpu.prefill->Prefill(req);
    ASSERT_TRUE(g.ok() && c.ok()) << g.status() << " / " << c.status();
    EXPECT_EQ(g->handle().id(), c->handle().id());  // same model, method and tokens: same key
    EXPECT_DOUBLE_EQ(g->attention_density(), c->attention_density());
    for (const char* query : {"\nKey: \"b7d2\"\nValue:", "\nKey: \"c3a9\"\nValue:"}) {
      v1::AnswerRequest a;
      *a.mutable_handle() = g->handle();
      a.mutable_query()->set_text(query);
      a.mutable_generation()->set_max_new_tokens(8);
      auto ga = gpu.decode->Answer(a);
      *a.mutable_handle() = c->handle();
      auto ca = cpu.decode->Answer(a);
      ASSERT_TRUE(ga.ok() && ca.ok()) << ga.status() << " / " << ca.status();
      EXPECT_EQ(ga->text(), ca->text()) << query;
      EXPECT_EQ(ga->usage().prefill_backend().rfind("cuda:0", 0), 0u) << ga->usage().prefill_backend();
      EXPECT_EQ(ga->usage().decode_backend().rfind("cuda:0", 0), 0u) << ga->usage().decode_backend();
      EXPECT_EQ(ca->usage().decode_backend().rfind("cpu", 0), 0u) << ca->usage().decode_backend();
    }
  }
  const std::vector<TierStats> tiers = gpu.store->Tiers();
  ASSERT_FALSE(tiers.empty());
  EXPECT_EQ(tiers.front().name, "device");
  EXPECT_GE(tiers.front().entries, 3);
  EXPECT_GE(tiers.front().hits, 6);
}

}  // namespace
}  // namespace kvlab
