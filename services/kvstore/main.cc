// kvlab-kvstore: the KV store server (host-memory tier).
//
//   kvlab-kvstore [--listen=0.0.0.0:7103] [--capacity_mb=8192] [common server flags]
#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "services/common/server_flags.h"
#include "services/kvstore/grpc_server.h"

ABSL_FLAG(int64_t, capacity_mb, 8192, "MiB of entries held; least recently used entries are evicted beyond it");

int main(int argc, char** argv) {
  kvlab::BlockTerminationSignals();
  absl::SetProgramUsageMessage("kvlab-kvstore: serves KV cache entries over gRPC (kvlab.v1.KvStoreService)");
  absl::ParseCommandLine(argc, argv);
  auto options = kvlab::ServerSetupFromFlags("kvstore", "0.0.0.0:7103");
  if (!options.ok()) {
    std::fprintf(stderr, "kvlab-kvstore: %s\n", options.status().ToString().c_str());
    return 2;
  }
  const int64_t capacity_mb = absl::GetFlag(FLAGS_capacity_mb);
  if (capacity_mb <= 0) {
    std::fprintf(stderr, "kvlab-kvstore: --capacity_mb must be positive\n");
    return 2;
  }
  kvlab::LocalKvStoreOptions store_options;
  store_options.capacity_bytes = capacity_mb << 20;
  auto store = kvlab::NewLocalKvStore(store_options);
  kvlab::KvStoreServiceOptions service_options;
  service_options.max_entry_bytes = store_options.capacity_bytes;
  kvlab::KvStoreGrpcService service(store.get(), kvlab::Authenticator(options->auth_token), service_options);
  return kvlab::ServeUntilSignal("kvstore", *options, {&service});
}
