// Tiered KV store figures (issue 7): host tier put/get in process, redis tier
// put/get on loopback (a redis-server child started here, configured with
// THP as README recommends; steady state after a warm-up round), each beside memcpy
// measured in the same run, and Lookup latency with 100 000 indexed entries.
// Prints a table; not a test.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "common/large_buffer_heap.h"
#include "services/kvstore/tiered_store.h"
#include "services/kvstore/tiers/redis_tier.h"

namespace kvlab {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

KvEntry MakeEntry(int32_t first_token, int tokens, int layers, size_t layer_bytes) {
  KvEntry e;
  e.header.set_format_version(kKvEntryFormatVersion);
  e.header.set_model_fingerprint("0123456789abcdef0123456789abcdef");
  e.header.set_method_spec("prefill=dense;kv=full;decode=none;prompt=none");
  e.header.set_codec("f16");
  for (int i = 0; i < tokens; ++i) e.header.add_tokens(first_token + i);
  e.header.set_num_layers(layers);
  e.header.set_num_kv_heads(1);
  e.header.set_head_dim(64);
  for (int l = 0; l < layers; ++l) {
    e.header.add_kept(tokens);
    std::string bytes(layer_bytes, '\0');
    for (size_t i = 0; i < layer_bytes; i += 64) bytes[i] = static_cast<char>(i * 31 + l);
    e.layers.push_back(std::move(bytes));
  }
  SealEntry(e);
  return e;
}

double MemcpyGBps(size_t bytes) {
  std::string a(bytes, 'a'), b(bytes, 'b');
  std::memcpy(b.data(), a.data(), bytes);  // warm
  const int reps = 8;
  auto t0 = Clock::now();
  for (int i = 0; i < reps; ++i) {
    a[i] = static_cast<char>(i);
    std::memcpy(b.data(), a.data(), bytes);
  }
  auto t1 = Clock::now();
  return static_cast<double>(bytes) * reps / Seconds(t0, t1) / 1e9;
}

struct Row {
  std::string what;
  double value;
  std::string unit;
  std::string target;
};

// Put and Get throughput of `store` for entries of layers x layer_bytes, in
// the steady state of a long-lived store: one untimed round of the same puts
// (then deletes) first, so the timed puts reuse memory the tier's allocator
// (ours, or redis-server's) already holds, as they do once a cache has
// evicted entries.
void PutGet(TieredKvStore& store, const std::string& label, int layers, size_t layer_bytes, int reps,
            std::vector<Row>& rows, const std::string& put_target, const std::string& get_target) {
  for (int i = 0; i < reps; ++i) {
    v1::PutOptions o;
    o.set_name(label + "-warmup" + std::to_string(i));
    if (!store.Put(MakeEntry(i * 10 + 1, 16, layers, layer_bytes), o).ok() || !store.Delete(o.name()).ok()) {
      std::fprintf(stderr, "warm-up put/delete failed\n");
    }
  }
  std::vector<KvEntry> entries;
  for (int i = 0; i < reps; ++i) entries.push_back(MakeEntry(i * 10, 16, layers, layer_bytes));
  const double bytes = static_cast<double>(layers) * static_cast<double>(layer_bytes);
  std::vector<std::string> ids;
  auto t0 = Clock::now();
  for (int i = 0; i < reps; ++i) {
    v1::PutOptions o;
    o.set_name(label + std::to_string(i));
    auto r = store.Put(std::move(entries[i]), o);
    if (!r.ok()) std::fprintf(stderr, "put failed: %s\n", std::string(r.status().message()).c_str());
    ids.push_back(o.name());
  }
  auto t1 = Clock::now();
  const int get_rounds = 3;
  for (int g = 0; g < get_rounds; ++g) {
    for (const std::string& id : ids) {
      auto r = store.Get(id);
      if (!r.ok()) std::fprintf(stderr, "get failed: %s\n", std::string(r.status().message()).c_str());
    }
  }
  auto t2 = Clock::now();
  rows.push_back({label + " put (verify + store)", bytes * reps / Seconds(t0, t1) / 1e9, "GB/s", put_target});
  rows.push_back({label + " get (read + verify)", bytes * reps * get_rounds / Seconds(t1, t2) / 1e9, "GB/s",
                  get_target});
}

pid_t StartRedis(int port) {
  const std::string p = std::to_string(port);
  pid_t pid = ::fork();
  if (pid == 0) {
    const int null_fd = ::open("/dev/null", O_WRONLY);
    if (null_fd >= 0) ::dup2(null_fd, STDOUT_FILENO);
    // Configured as README recommends for a KV cache tier: transparent huge
    // pages for jemalloc's large values (4 KiB page faults dominate otherwise).
    ::setenv("MALLOC_CONF", "thp:always,metadata_thp:always", 1);
    ::execlp("redis-server", "redis-server", "--port", p.c_str(), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--disable-thp", "no", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

int Main() {
  std::vector<Row> rows;
  const size_t layer_bytes = 4 << 20;
  const int layers = 16;  // 64 MiB entries
  rows.push_back({"memcpy 64 MiB", MemcpyGBps(layer_bytes * layers), "GB/s", "reference"});

  {
    TieredStoreOptions o;
    o.host_capacity_bytes = 4ll << 30;
    auto store = NewTieredKvStore(o);
    if (!store.ok()) return 1;
    PutGet(**store, "host", layers, layer_bytes, 8, rows, ">= 5", ">= 5");
  }

  const int port = 16379 + static_cast<int>(::getpid() % 1000);
  const pid_t redis = StartRedis(port);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  {
    TieredStoreOptions o;
    o.host_capacity_bytes = 0;  // straight to redis, every get from redis
    o.redis.address = "127.0.0.1";
    o.redis.port = port;
    o.redis.key_prefix = "bench";
    auto store = NewTieredKvStore(o);
    if (store.ok()) {
      PutGet(**store, "redis", layers, layer_bytes, 6, rows, ">= 0.5", ">= 0.5");
    } else {
      std::fprintf(stderr, "redis: %s\n", std::string(store.status().message()).c_str());
    }
  }
  rows.push_back({"memcpy 64 MiB (after redis)", MemcpyGBps(layer_bytes * layers), "GB/s", "reference"});
  ::kill(redis, SIGKILL);
  ::waitpid(redis, nullptr, 0);

  {
    // 100 000 full entries of 512 tokens (tiny payloads): 1000 families of
    // 100 entries sharing a 256-token first block.
    TieredStoreOptions o;
    auto store = NewTieredKvStore(o);
    if (!store.ok()) return 1;
    const int kEntries = 100000;
    auto t0 = Clock::now();
    for (int i = 0; i < kEntries; ++i) {
      KvEntry e = MakeEntry(0, 0, 1, 64);
      const int family = i / 100;
      for (int t = 0; t < 512; ++t) e.header.add_tokens(t < 256 ? family * 1000 + t : i * 1000 + t);
      e.header.clear_kept();
      e.header.add_kept(512);
      (void)(*store)->Put(std::move(e), {});
    }
    auto t1 = Clock::now();
    std::vector<double> lat;
    const int kLookups = 20000;
    for (int q = 0; q < kLookups; ++q) {
      const int i = static_cast<int>((static_cast<uint64_t>(q) * 2654435761u) % kEntries);
      v1::LookupRequest req;
      req.set_model_fingerprint("0123456789abcdef0123456789abcdef");
      req.set_method_spec("prefill=dense;kv=full;decode=none;prompt=none");
      const int family = i / 100;
      for (int t = 0; t < 1024; ++t) req.mutable_tokens()->add_ids(t < 256 ? family * 1000 + t : i * 1000 + t);
      auto s = Clock::now();
      auto r = (*store)->Lookup(req);
      auto e = Clock::now();
      if (!r.ok() || !r->found() || r->matched_tokens() != 512) std::fprintf(stderr, "lookup miss at %d\n", q);
      lat.push_back(Seconds(s, e) * 1e6);
    }
    std::sort(lat.begin(), lat.end());
    rows.push_back({"index build: 100k Puts", Seconds(t0, t1), "s", ""});
    rows.push_back({"Lookup p50 (1024 tokens, 100k entries)", lat[lat.size() / 2], "us", ""});
    rows.push_back({"Lookup p99 (1024 tokens, 100k entries)", lat[lat.size() * 99 / 100], "us", "< 1000"});
  }

  std::printf("| %-42s | %10s | %-5s | %-8s |\n", "measure", "value", "unit", "target");
  std::printf("|%s|%s|%s|%s|\n", std::string(44, '-').c_str(), std::string(12, '-').c_str(),
              std::string(7, '-').c_str(), std::string(10, '-').c_str());
  for (const Row& r : rows) {
    std::printf("| %-42s | %10.2f | %-5s | %-8s |\n", r.what.c_str(), r.value, r.unit.c_str(), r.target.c_str());
  }
  return 0;
}

}  // namespace
}  // namespace kvlab

int main(int, char** argv) {
  kvlab::SetUpLargeBufferHeap(argv);  // as the kvstore server does
  return kvlab::Main();
}
