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
#include <string>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "bench/machine_limits.h"
#include "common/large_buffer_heap.h"
#include "services/common/server_runner.h"
#include "services/kvstore/grpc_client.h"
#include "services/kvstore/grpc_server.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(int64_t, entry_mb, 256, "entry size (MiB of serialized layers)");
ABSL_FLAG(int64_t, layers, 32, "layers of the entry (the size is split evenly)");
ABSL_FLAG(int, reps, 5, "timed transfers");
ABSL_FLAG(std::string, transport, "both", "tcp (127.0.0.1), unix (a Unix socket) or both");

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

// Minor page faults of this process so far (server and client threads).
int64_t MinorFaults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

// Median GB/s of Get over gRPC from a kvstore serving `store` on `listen`
// ("127.0.0.1:0" or "unix:PATH"); 0 on failure. Prints every run.
double MedianGetGBs(KvStore* store, const KvEntry& entry, const std::string& listen) {
  KvStoreGrpcService service(store, Authenticator("bench-token"));
  ServerOptions server_options;
  server_options.listen = listen;
  server_options.auth_token = "bench-token";
  auto server = GrpcServer::Start(server_options, {&service});
  if (!server.ok()) {
    std::fprintf(stderr, "%s\n", server.status().ToString().c_str());
    return 0;
  }
  ClientOptions client_options;
  client_options.address = (*server)->address();
  client_options.peer_name = "kvstore";
  client_options.token = "bench-token";
  auto client = NewKvStoreClient(client_options);
  if (!client.ok()) return 0;
  const double bytes = static_cast<double>(entry.payload_bytes());
  std::printf("%s:\n", (*server)->address().c_str());
  std::vector<double> rates;
  for (int r = 0; r < absl::GetFlag(FLAGS_reps) + 1; ++r) {
    const int64_t faults0 = MinorFaults();
    const auto t0 = std::chrono::steady_clock::now();
    auto got = (*client)->Get("bench-entry");
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const int64_t faults = MinorFaults() - faults0;
    if (!got.ok() || (*got)->payload_bytes() != entry.payload_bytes()) {
      std::fprintf(stderr, "transfer failed: %s\n", got.status().ToString().c_str());
      return 0;
    }
    if (r == 0) continue;  // warm-up: connection, allocator
    rates.push_back(bytes / s / 1e9);
    std::printf("  run %d: %.3f s, %.2f GB/s, %lld page faults\n", r, s, rates.back(), static_cast<long long>(faults));
  }
  (*server)->Shutdown(std::chrono::milliseconds(0));
  std::sort(rates.begin(), rates.end());
  return rates[rates.size() / 2];
}

int Run() {
  spdlog::set_level(spdlog::level::err);
  const int64_t layers = absl::GetFlag(FLAGS_layers);
  const int64_t total = absl::GetFlag(FLAGS_entry_mb) << 20;
  KvEntry entry = MakeEntry(layers, total / layers);
  LocalKvStoreOptions store_options;
  store_options.capacity_bytes = 4 * entry.payload_bytes();
  auto store = NewLocalKvStore(store_options);
  v1::PutOptions named;
  named.set_name("bench-entry");
  if (auto put = store->Put(entry, named); !put.ok()) {
    std::fprintf(stderr, "%s\n", put.status().ToString().c_str());
    return 1;
  }
  std::printf("transfer bench: %.0f MiB entry, %lld layers, kvstore -> decode client over gRPC "
              "(4 MiB chunks, checksums verified on receipt)\n",
              static_cast<double>(entry.payload_bytes()) / (1 << 20), static_cast<long long>(layers));
  const std::string transport = absl::GetFlag(FLAGS_transport);
  const std::string socket_path = absl::StrCat("/tmp/kvlab-transfer-bench-", getpid(), ".sock");
  struct Result {
    const char* name;
    bool unix_socket;
    double grpc = 0, ceiling = 0;
  };
  std::vector<Result> results;
  if (transport == "tcp" || transport == "both") results.push_back({"loopback TCP", false});
  if (transport == "unix" || transport == "both") results.push_back({"Unix socket", true});
  if (results.empty()) {
    std::fprintf(stderr, "--transport must be tcp, unix or both\n");
    return 1;
  }
  for (Result& r : results) {
    r.grpc = MedianGetGBs(store.get(), entry, r.unix_socket ? "unix:" + socket_path : "127.0.0.1:0");
    if (r.unix_socket) unlink(socket_path.c_str());
    r.ceiling = MeasureSocketGBs(r.unix_socket);
  }
  const double memcpy_gbs = MeasureMemcpyGBs();
  std::printf("memcpy (1 thread, same run): %.2f GB/s\n", memcpy_gbs);
  for (const Result& r : results) {
    std::printf("transfer over %s: median %.2f GB/s | plain send/recv over the same socket kind %.2f GB/s "
                "(gRPC = %.0f%% of it) | %.0f%% of memcpy | target >= 2 GB/s: %s\n",
                r.name, r.grpc, r.ceiling, r.ceiling > 0 ? 100.0 * r.grpc / r.ceiling : 0.0,
                100.0 * r.grpc / memcpy_gbs, r.grpc >= 2.0 ? "met" : "NOT met");
  }
  return 0;
}

}  // namespace
}  // namespace kvlab::bench

int main(int argc, char** argv) {
  kvlab::SetUpLargeBufferHeap(argv);
  absl::ParseCommandLine(argc, argv);
  return kvlab::bench::Run();
}
