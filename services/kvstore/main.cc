// kvlab-kvstore: the KV store server (tiered store, tiered_store.h).
//
//   kvlab-kvstore [--listen=127.0.0.1:7103] [--host_capacity_mb=8192]
//                 [--redis=host:port [--redis_capacity_mb=0] [--redis_ttl_s=0]]
//                 [--disk_dir=DIR [--disk_capacity_mb=0]]
//                 [--device_capacity_mb=0 (CUDA builds)] [common server flags]
#include <algorithm>
#include <cstdio>
#include <limits>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/large_buffer_heap.h"
#include "services/common/server_flags.h"
#include "services/kvstore/grpc_server.h"
#include "services/kvstore/tiered_store.h"

ABSL_FLAG(int64_t, host_capacity_mb, -1,
          "MiB of entries the host (RAM) tier holds; least recently used entries are demoted to the next "
          "tier (or evicted) beyond it; 0 = no host copies (needs --redis or --disk_dir). Default: --capacity_mb");
ABSL_FLAG(int64_t, capacity_mb, 8192, "alias of --host_capacity_mb (kept for kvlab up and older scripts)");
ABSL_FLAG(std::string, redis, "", "host:port of a redis-server to use as a tier below host memory (empty = none)");
ABSL_FLAG(int64_t, redis_capacity_mb, 0, "MiB of entries kept in Redis; 0 = unlimited (Redis' maxmemory applies)");
ABSL_FLAG(int64_t, redis_ttl_s, 0, "lifetime of entries in Redis in seconds; 0 = no expiry");
ABSL_FLAG(std::string, disk_dir, "", "directory of the disk tier (empty = none)");
ABSL_FLAG(int64_t, disk_capacity_mb, 0, "MiB of entries kept on disk; 0 = unlimited");
ABSL_FLAG(int64_t, device_capacity_mb, 0, "MiB of entries kept in GPU memory (CUDA builds only); 0 = none");
ABSL_FLAG(bool, write_through, false,
          "also write every entry to the first persistent tier (redis, else disk) so it survives a restart");

namespace {

// MiB flag value in bytes; INVALID_ARGUMENT naming `flag` when negative.
absl::StatusOr<int64_t> MegabytesFlag(const char* flag, int64_t mb) {
  if (mb < 0) return absl::InvalidArgumentError(absl::StrCat("--", flag, " must be >= 0, got ", mb));
  if (mb > (std::numeric_limits<int64_t>::max() >> 20)) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, " is too large: ", mb));
  }
  return mb << 20;
}

// The tiered store options from the flags; INVALID_ARGUMENT naming the flag.
absl::StatusOr<kvlab::TieredStoreOptions> StoreOptionsFromFlags() {
  kvlab::TieredStoreOptions options;
  int64_t host_mb = absl::GetFlag(FLAGS_host_capacity_mb);
  if (host_mb < 0) host_mb = absl::GetFlag(FLAGS_capacity_mb);
  auto host = MegabytesFlag("host_capacity_mb", host_mb);
  if (!host.ok()) return host.status();
  options.host_capacity_bytes = *host;

  const std::string redis = absl::GetFlag(FLAGS_redis);
  if (!redis.empty()) {
    const size_t colon = redis.rfind(':');
    int port = 0;
    if (colon == std::string::npos || colon == 0 ||
        !absl::SimpleAtoi(absl::string_view(redis).substr(colon + 1), &port) || port <= 0 || port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat("--redis must be host:port, got '", redis, "'"));
    }
    options.redis.address = redis.substr(0, colon);
    options.redis.port = port;
    auto capacity = MegabytesFlag("redis_capacity_mb", absl::GetFlag(FLAGS_redis_capacity_mb));
    if (!capacity.ok()) return capacity.status();
    options.redis.capacity_bytes = *capacity;
    if (absl::GetFlag(FLAGS_redis_ttl_s) < 0) return absl::InvalidArgumentError("--redis_ttl_s must be >= 0");
    options.redis.ttl_s = absl::GetFlag(FLAGS_redis_ttl_s);
  }

  options.disk.dir = absl::GetFlag(FLAGS_disk_dir);
  auto disk = MegabytesFlag("disk_capacity_mb", absl::GetFlag(FLAGS_disk_capacity_mb));
  if (!disk.ok()) return disk.status();
  options.disk.capacity_bytes = *disk;

  auto device = MegabytesFlag("device_capacity_mb", absl::GetFlag(FLAGS_device_capacity_mb));
  if (!device.ok()) return device.status();
#ifndef KVLAB_HAVE_CUDA
  if (*device > 0) {
    return absl::InvalidArgumentError("--device_capacity_mb needs a CUDA build of kvlab (-DKVLAB_CUDA=ON)");
  }
#endif
  options.device_capacity_bytes = *device;

  if (options.host_capacity_bytes == 0 && options.redis.address.empty() && options.disk.dir.empty() &&
      options.device_capacity_bytes == 0) {
    return absl::InvalidArgumentError("--host_capacity_mb=0 needs another tier (--redis, --disk_dir)");
  }
  options.write_through = absl::GetFlag(FLAGS_write_through);
  return options;
}

// The largest entry any tier can take: what Put refuses before receiving.
int64_t LargestEntryBytes(const kvlab::TieredStoreOptions& options) {
  const bool unlimited = (!options.redis.address.empty() && options.redis.capacity_bytes == 0) ||
                         (!options.disk.dir.empty() && options.disk.capacity_bytes == 0);
  if (unlimited) return std::numeric_limits<int64_t>::max();
  int64_t largest = std::max(options.host_capacity_bytes, options.device_capacity_bytes);
  if (!options.redis.address.empty()) largest = std::max(largest, options.redis.capacity_bytes);
  if (!options.disk.dir.empty()) largest = std::max(largest, options.disk.capacity_bytes);
  return largest;
}

}  // namespace

int main(int argc, char** argv) {
  kvlab::SetUpLargeBufferHeap(argv);
  kvlab::BlockTerminationSignals();
  absl::SetProgramUsageMessage("kvlab-kvstore: serves KV cache entries over gRPC (kvlab.v1.KvStoreService)");
  absl::ParseCommandLine(argc, argv);
  auto options = kvlab::ServerSetupFromFlags("kvstore", "127.0.0.1:7103");
  if (!options.ok()) {
    std::fprintf(stderr, "kvlab-kvstore: %s\n", options.status().ToString().c_str());
    return 2;
  }
  auto store_options = StoreOptionsFromFlags();
  if (!store_options.ok()) {
    std::fprintf(stderr, "kvlab-kvstore: %s\n", store_options.status().ToString().c_str());
    return 2;
  }
  auto store = kvlab::NewTieredKvStore(*store_options);
  if (!store.ok()) {
    std::fprintf(stderr, "kvlab-kvstore: cannot open the store: %s\n", store.status().ToString().c_str());
    return 1;
  }
  kvlab::KvStoreServiceOptions service_options;
  service_options.max_entry_bytes = LargestEntryBytes(*store_options);
  kvlab::KvStoreGrpcService service(store->get(), kvlab::Authenticator(options->auth_token), service_options);
  return kvlab::ServeUntilSignal("kvstore", *options, {&service});
}
