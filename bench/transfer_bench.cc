// bench/transfer: loopback gRPC transfer of a large KV entry from the
// kvstore service to a decode-side kvstore client (stream of <= 4 MiB chunks,
// reassembled and checksum-verified), beside this machine's memcpy bandwidth
// measured in the same run.
//
//   build/bench/transfer_bench [--entry_mb=256] [--layers=32] [--reps=5]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include "common/huge_page_malloc.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "bench/machine_limits.h"
#include "services/common/server_runner.h"
#include "services/kvstore/grpc_client.h"
#include "services/kvstore/grpc_server.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(int64_t, entry_mb, 256, "entry size (MiB of serialized layers)");
ABSL_FLAG(int64_t, layers, 32, "layers of the entry (the size is split evenly)");
ABSL_FLAG(int, reps, 5, "timed transfers");

namespace kvlab::bench {
namespace {

KvEntry MakeEntry(int64_t layers, int64_t layer_bytes) {
  KvEntry e;
  e.header.set_format_version(kKvEntryFormatVersion);
  e.header.set_model_fingerprint(std::string(32, 'f'));
  e.header.set_method_spec("prefill=dense;kv=full;decode=none;prompt=none");
  e.header.set_codec("f32");
  e.header.set_num_layers(layers);
  e.header.set_num_kv_heads(1);
  e.header.set_head_dim(128);
  for (int64_t l = 0; l < layers; ++l) e.header.add_kept(1);
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (int64_t l = 0; l < layers; ++l) {
    std::string bytes(static_cast<size_t>(layer_bytes), '\0');
    for (size_t i = 0; i + 8 <= bytes.size(); i += 8) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      std::memcpy(bytes.data() + i, &x, 8);
    }
    e.layers.push_back(std::move(bytes));
  }
  SealEntry(e);
  return e;
}

int Run() {
  spdlog::set_level(spdlog::level::err);
  TuneAllocatorForLargeBuffers();  // as the server binaries do
  const int64_t layers = absl::GetFlag(FLAGS_layers);
  const int64_t total = absl::GetFlag(FLAGS_entry_mb) << 20;
  KvEntry entry = MakeEntry(layers, total / layers);
  const double bytes = static_cast<double>(entry.payload_bytes());

  LocalKvStoreOptions store_options;
  store_options.capacity_bytes = 4 * entry.payload_bytes();
  auto store = NewLocalKvStore(store_options);
  v1::PutOptions named;
  named.set_name("bench-entry");
  auto put = store->Put(entry, named);
  if (!put.ok()) {
    std::fprintf(stderr, "%s\n", put.status().ToString().c_str());
    return 1;
  }
  KvStoreGrpcService service(store.get(), Authenticator("bench-token"));
  ServerOptions server_options;
  server_options.auth_token = "bench-token";
  auto server = GrpcServer::Start(server_options, {&service});
  if (!server.ok()) {
    std::fprintf(stderr, "%s\n", server.status().ToString().c_str());
    return 1;
  }
  ClientOptions client_options;
  client_options.address = (*server)->address();
  client_options.peer_name = "kvstore";
  client_options.token = "bench-token";
  auto client = NewKvStoreClient(client_options);
  if (!client.ok()) return 1;

  std::printf("transfer bench: %.0f MiB entry, %lld layers, kvstore -> decode client over loopback gRPC "
              "(4 MiB chunks, checksums verified on receipt)\n",
              bytes / (1 << 20), static_cast<long long>(layers));
  std::vector<double> rates;
  for (int r = 0; r < absl::GetFlag(FLAGS_reps) + 1; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    auto got = (*client)->Get("bench-entry");
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!got.ok() || (*got)->payload_bytes() != entry.payload_bytes()) {
      std::fprintf(stderr, "transfer failed: %s\n", got.status().ToString().c_str());
      return 1;
    }
    if (r == 0) continue;  // warm-up: connection, allocator
    rates.push_back(bytes / s / 1e9);
    std::printf("  run %d: %.3f s, %.2f GB/s\n", r, s, rates.back());
  }
  std::sort(rates.begin(), rates.end());
  const double memcpy_gbs = MeasureMemcpyGBs();
  std::printf("transfer: best %.2f GB/s, median %.2f GB/s | memcpy (1 thread, same run) %.2f GB/s | "
              "median = %.0f%% of memcpy | target >= 2 GB/s: %s\n",
              rates.back(), rates[rates.size() / 2], memcpy_gbs, 100.0 * rates[rates.size() / 2] / memcpy_gbs,
              rates[rates.size() / 2] >= 2.0 ? "met" : "NOT met");
  (*server)->Shutdown(std::chrono::milliseconds(0));
  return 0;
}

}  // namespace
}  // namespace kvlab::bench

int main(int argc, char** argv) {
  kvlab::ReexecWithHugePageMalloc(argv);
  absl::ParseCommandLine(argc, argv);
  return kvlab::bench::Run();
}
