// bench/ttft: time to first token of a follow-up query on a cached 2K-token
// context, served over gRPC (decode worker fetching the entry from the
// kvstore service), against recomputing the context from scratch with the
// engine. Uses the ~110M-parameter random bench model with token ids (it has
// no tokenizer).
//
//   build/bench/ttft_bench [--context_tokens=2048] [--query_tokens=32] [--reps=5]
//                          [--model_dir=bench-cache/llama-110m]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "bench/bench_model.h"
#include "common/large_buffer_heap.h"
#include "services/common/served_model.h"
#include "services/common/server_runner.h"
#include "services/compressor/compressor.h"
#include "services/decode/grpc_client.h"
#include "services/decode/grpc_server.h"
#include "services/kvstore/grpc_client.h"
#include "services/kvstore/grpc_server.h"
#include "services/prefill/prefiller.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(int64_t, context_tokens, 2048, "tokens of the cached context");
ABSL_FLAG(int64_t, query_tokens, 32, "tokens of the follow-up query");
ABSL_FLAG(int, reps, 5, "timed queries (and recomputations)");
ABSL_FLAG(std::string, model_dir, "bench-cache/llama-110m", "where the random bench model is generated");

namespace kvlab::bench {
namespace {

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::vector<int32_t> RandomTokens(int64_t n, int64_t vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> d(3, static_cast<int32_t>(vocab - 1));
  std::vector<int32_t> ids(n);
  for (auto& x : ids) x = d(rng);
  return ids;
}

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "ttft bench: %s\n", s.ToString().c_str());
  return 1;
}

int Run() {
  spdlog::set_level(spdlog::level::err);
  const std::string dir = absl::GetFlag(FLAGS_model_dir);
  BenchModelShape shape;
  if (absl::Status s = EnsureBenchModel(dir, shape); !s.ok()) return Fail(s);
  auto served = LoadServedModel(dir);
  if (!served.ok()) return Fail(served.status());
  const Model& model = *served->model;
  const int64_t n = absl::GetFlag(FLAGS_context_tokens), q = absl::GetFlag(FLAGS_query_tokens);
  const int reps = absl::GetFlag(FLAGS_reps);

  // kvstore and decode servers on loopback; prefill in-process into the store.
  auto store = NewLocalKvStore();
  KvStoreGrpcService kv_service(store.get(), Authenticator());
  auto kv_server = GrpcServer::Start(ServerOptions(), {&kv_service});
  if (!kv_server.ok()) return Fail(kv_server.status());
  ClientOptions kv_options;
  kv_options.address = (*kv_server)->address();
  kv_options.peer_name = "kvstore";
  auto decode_store = NewKvStoreClient(kv_options);
  auto prefill_store = NewKvStoreClient(kv_options);
  if (!decode_store.ok() || !prefill_store.ok()) return Fail(decode_store.status());
  auto worker = NewLocalDecodeWorker(&model, nullptr, decode_store->get());
  DecodeGrpcService decode_service(worker.get(), Authenticator());
  auto decode_server = GrpcServer::Start(ServerOptions(), {&decode_service});
  if (!decode_server.ok()) return Fail(decode_server.status());
  ClientOptions decode_options;
  decode_options.address = (*decode_server)->address();
  decode_options.peer_name = "decode";
  auto decode = NewDecodeClient(decode_options);
  if (!decode.ok()) return Fail(decode.status());

  auto compressor = NewLocalCompressor();
  auto prefiller = NewLocalPrefiller(&model, nullptr, compressor.get(), prefill_store->get());
  const std::vector<int32_t> context = RandomTokens(n, model.config().vocab_size, 1);
  v1::PrefillRequest prefill_request;
  prefill_request.mutable_context()->mutable_tokens()->mutable_ids()->Assign(context.begin(), context.end());
  auto prefilled = prefiller->Prefill(prefill_request);
  if (!prefilled.ok()) return Fail(prefilled.status());
  std::printf("ttft bench: %lld-layer random Llama (%.0fM parameters), cached context %lld tokens "
              "(entry %.1f MiB), follow-up query %lld tokens, first token only\n",
              static_cast<long long>(shape.layers), ParameterCount(shape) / 1e6, static_cast<long long>(n),
              prefilled->usage().entry_bytes() / 1048576.0, static_cast<long long>(q));

  std::vector<double> cached_ms, server_ttft_ms, fetch_ms, recompute_ms;
  for (int r = 0; r < reps + 1; ++r) {
    const std::vector<int32_t> query = RandomTokens(q, model.config().vocab_size, 100 + r);
    v1::AnswerRequest answer;
    *answer.mutable_handle() = prefilled->handle();
    answer.mutable_query()->mutable_tokens()->mutable_ids()->Assign(query.begin(), query.end());
    answer.mutable_generation()->set_max_new_tokens(1);
    const auto t0 = std::chrono::steady_clock::now();
    auto a = (*decode)->Answer(answer);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (!a.ok()) return Fail(a.status());
    if (r == 0) continue;  // warm-up
    cached_ms.push_back(ms);
    server_ttft_ms.push_back(a->timings().ttft_ms());
    fetch_ms.push_back(a->timings().fetch_ms());
  }
  for (int r = 0; r < std::max(1, reps / 2); ++r) {
    std::vector<int32_t> prompt = context;
    const std::vector<int32_t> query = RandomTokens(q, model.config().vocab_size, 100 + r);
    prompt.insert(prompt.end(), query.begin(), query.end());
    auto cache = model.NewCache(static_cast<int64_t>(prompt.size()) + 1);
    if (!cache.ok()) return Fail(cache.status());
    const auto t0 = std::chrono::steady_clock::now();
    auto logits = model.Forward(prompt, **cache);
    if (!logits.ok()) return Fail(logits.status());
    recompute_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  const double cached = Median(cached_ms), recompute = Median(recompute_ms);
  std::printf("cached context over gRPC: TTFT %.1f ms at the client (server-side %.1f ms, of which entry fetch "
              "%.1f ms)\n",
              cached, Median(server_ttft_ms), Median(fetch_ms));
  std::printf("recompute context + query from scratch: %.1f ms\n", recompute);
  std::printf("ttft ratio (cached / recompute) = %.3f | target <= 0.20: %s\n", cached / recompute,
              cached / recompute <= 0.2 ? "met" : "NOT met");
  return 0;
}

}  // namespace
}  // namespace kvlab::bench

int main(int argc, char** argv) {
  kvlab::SetUpLargeBufferHeap(argv);
  absl::ParseCommandLine(argc, argv);
  return kvlab::bench::Run();
}
