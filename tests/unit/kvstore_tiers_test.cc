// The tiered KV store (issue 7) and its tier backends: host, redis (a real
// redis-server on loopback), disk; demotion/promotion, pins and leases, the
// prefix index through Lookup, restart, integrity (corruption in Redis and on
// disk), and a concurrency hammer that checks every byte.
#include <hiredis/hiredis.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <thread>

#include "gtest/gtest.h"
#include "kvcache/entry_key.h"
#include "services/kvstore/tiered_store.h"
#include "services/kvstore/tiers/disk_tier.h"
#include "services/kvstore/tiers/host_tier.h"
#include "services/kvstore/tiers/manifest.h"
#include "services/kvstore/tiers/redis_tier.h"
#include "tests/util/redis_server.h"
#include "tests/util/test_util.h"

namespace kvlab {
namespace {

constexpr char kFingerprint[] = "0123456789abcdef0123456789abcdef";
constexpr char kFull[] = "prefill=dense;kv=full;decode=none;prompt=none";
constexpr char kCompressed[] = "prefill=dense;kv=streamingllm{n_recent=4096,n_sink=128};decode=none;prompt=none";

// A sealed entry whose layer bytes are a function of (seed, layer, offset),
// so any reader can check every byte.
KvEntry MakeEntry(std::vector<int32_t> tokens, int layers, size_t layer_bytes, uint32_t seed,
                  const std::string& method = kFull) {
  KvEntry e;
  e.header.set_format_version(kKvEntryFormatVersion);
  e.header.set_model_fingerprint(kFingerprint);
  e.header.set_method_spec(method);
  e.header.set_codec("f16");
  for (int32_t t : tokens) e.header.add_tokens(t);
  e.header.set_num_layers(layers);
  e.header.set_num_kv_heads(1);
  e.header.set_head_dim(8);
  e.header.set_session_turn(static_cast<int32_t>(seed));
  for (int l = 0; l < layers; ++l) {
    e.header.add_kept(static_cast<int64_t>(tokens.size()));
    std::string bytes(layer_bytes, '\0');
    for (size_t i = 0; i < layer_bytes; ++i) bytes[i] = static_cast<char>((seed * 131 + l * 17 + i * 7) & 0xff);
    e.layers.push_back(std::move(bytes));
  }
  SealEntry(e);
  return e;
}

std::vector<int32_t> Tokens(size_t n, int32_t base) {
  std::vector<int32_t> t(n);
  for (size_t i = 0; i < n; ++i) t[i] = base + static_cast<int32_t>(i);
  return t;
}

bool SameBytes(const KvEntry& a, const KvEntry& b) { return a.layers == b.layers; }

// Every byte matches the pattern MakeEntry derives from the header's seed.
bool Consistent(const KvEntry& e) {
  const uint32_t seed = static_cast<uint32_t>(e.header.session_turn());
  for (size_t l = 0; l < e.layers.size(); ++l) {
    for (size_t i = 0; i < e.layers[l].size(); ++i) {
      if (e.layers[l][i] != static_cast<char>((seed * 131 + l * 17 + i * 7) & 0xff)) return false;
    }
  }
  return VerifyEntry(e).ok();
}

v1::PutOptions Named(const std::string& name) {
  v1::PutOptions o;
  o.set_name(name);
  return o;
}

const TierStats& StatsOf(const std::vector<TierStats>& tiers, const std::string& name) {
  for (const TierStats& t : tiers) {
    if (t.name == name) return t;
  }
  static TierStats none;
  ADD_FAILURE() << "no tier " << name;
  return none;
}

// --- manifest ------------------------------------------------------------

TEST(ManifestTest, RoundTripsAndRejectsCorruption) {
  KvEntry e = MakeEntry(Tokens(10, 0), 3, 2500, 1);
  Manifest m = PlanManifest(e, 42, 1000);
  ASSERT_EQ(m.chunks.size(), 9u);  // 3 chunks per layer
  std::string bytes = EncodeManifest(m);
  auto back = DecodeManifest(bytes);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->generation, 42u);
  EXPECT_EQ(back->chunks[4].offset, 1000u);
  EXPECT_EQ(back->chunks[4].checksum, m.chunks[4].checksum);
  bytes[20] ^= 1;
  EXPECT_EQ(DecodeManifest(bytes).status().code(), absl::StatusCode::kDataLoss);
}

// --- redis fixture ---------------------------------------------------------

class RedisTest : public ::testing::Test {
 protected:
  TieredStoreOptions StoreOptions() {
    TieredStoreOptions o;
    o.redis.address = "127.0.0.1";
    o.redis.port = redis_.port();
    o.redis.key_prefix = "t";
    return o;
  }
  RedisTierOptions TierOptions() {
    RedisTierOptions o;
    o.connection.port = redis_.port();
    o.key_prefix = "t";
    return o;
  }
  // Runs a raw command on the test server.
  RedisReplyPtr Raw(const std::vector<std::string_view>& args) {
    RedisOptions o;
    o.port = redis_.port();
    auto conn = RedisConnection::Connect(o);
    EXPECT_TRUE(conn.ok()) << conn.status();
    auto r = (*conn)->Command(args);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? std::move(*r) : nullptr;
  }
  int64_t CountKeys(const std::string& pattern) {
    RedisReplyPtr r = Raw({"KEYS", pattern});  // test-only; the store SCANs
    return r ? static_cast<int64_t>(r->elements) : -1;
  }

  testing::RedisServer redis_;
};

TEST_F(RedisTest, TierRoundTripsChunkedEntriesAndReplacesAtomically) {
  RedisTierOptions o = TierOptions();
  o.chunk_bytes = 1000;
  auto tier = RedisTier::Create(o);
  ASSERT_TRUE(tier.ok()) << tier.status();
  auto e1 = std::make_shared<const KvEntry>(MakeEntry(Tokens(5, 0), 2, 3500, 1));
  ASSERT_TRUE((*tier)->Put("a", e1).ok());
  EXPECT_EQ(CountKeys("t:a:chunk:*"), 8);  // 4 chunks per layer
  auto got = (*tier)->Get("a");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(SameBytes(**got, *e1));
  EXPECT_EQ((*got)->header.SerializeAsString(), e1->header.SerializeAsString());

  auto e2 = std::make_shared<const KvEntry>(MakeEntry(Tokens(5, 0), 1, 500, 2));
  ASSERT_TRUE((*tier)->Put("a", e2).ok());
  EXPECT_EQ(CountKeys("t:a:chunk:*"), 1);  // the old generation is gone
  got = (*tier)->Get("a");
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(SameBytes(**got, *e2));

  auto listed = (*tier)->List();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].id, "a");
  EXPECT_EQ((*listed)[0].bytes, 500);

  ASSERT_TRUE((*tier)->Delete("a").ok());
  EXPECT_EQ((*tier)->Get("a").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(CountKeys("t:a:*"), 0);
  EXPECT_TRUE((*tier)->Delete("a").ok());
}

TEST_F(RedisTest, TierSetsTtlOnManifestAndChunks) {
  RedisTierOptions o = TierOptions();
  o.ttl_s = 100;
  auto tier = RedisTier::Create(o);
  ASSERT_TRUE(tier.ok());
  ASSERT_TRUE((*tier)->Put("a", std::make_shared<const KvEntry>(MakeEntry(Tokens(5, 0), 1, 10, 1))).ok());
  RedisReplyPtr ttl = Raw({"TTL", "t:a:manifest"});
  ASSERT_TRUE(ttl);
  EXPECT_GT(ttl->integer, 0);
  EXPECT_LE(ttl->integer, 100);
  RedisReplyPtr keys = Raw({"KEYS", "t:a:chunk:*"});
  ASSERT_TRUE(keys && keys->elements == 1);
  RedisReplyPtr chunk_ttl = Raw({"TTL", std::string_view(keys->element[0]->str, keys->element[0]->len)});
  EXPECT_GT(chunk_ttl->integer, 100);  // chunks outlive their manifest
}

TEST_F(RedisTest, TierReconnectsAfterTheServerRestarts) {
  RedisTierOptions o = TierOptions();
  o.cooldown_ms = 0;  // reconnection itself, without the cooldown
  auto tier = RedisTier::Create(o);
  ASSERT_TRUE(tier.ok());
  auto e = std::make_shared<const KvEntry>(MakeEntry(Tokens(5, 0), 1, 100, 1));
  ASSERT_TRUE((*tier)->Put("a", e).ok());
  redis_.Stop();
  EXPECT_FALSE((*tier)->Get("a").ok());
  redis_.Start();  // empty again: persistence is off
  EXPECT_EQ((*tier)->Get("a").status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE((*tier)->Put("a", e).ok());
  EXPECT_TRUE((*tier)->Get("a").ok());
}

// A tier that found Redis unreachable fails at once during its cooldown
// (one timeout per cooldown, not one per call) and works again after it.
TEST_F(RedisTest, TierFailsFastDuringItsCooldownAndRecovers) {
  RedisTierOptions o = TierOptions();
  o.cooldown_ms = 300;
  auto tier = RedisTier::Create(o);
  ASSERT_TRUE(tier.ok());
  redis_.Stop();
  const absl::Status first = (*tier)->Get("a").status();
  EXPECT_EQ(first.code(), absl::StatusCode::kUnavailable) << first;
  EXPECT_EQ(first.message().find("skipped"), std::string::npos) << first;
  const absl::Status second = (*tier)->Get("a").status();
  EXPECT_EQ(second.code(), absl::StatusCode::kUnavailable) << second;
  EXPECT_NE(second.message().find("skipped"), std::string::npos) << second;
  redis_.Start();
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // past the cooldown
  auto e = std::make_shared<const KvEntry>(MakeEntry(Tokens(5, 0), 1, 100, 1));
  EXPECT_TRUE((*tier)->Put("a", e).ok());
  EXPECT_TRUE((*tier)->Get("a").ok());
}

// Redis down when the kvstore starts: the store starts, serves its host
// tier, and indexes what Redis holds once it answers.
TEST_F(RedisTest, StoreStartsWhileRedisIsDownAndIndexesItLater) {
  TieredStoreOptions o = StoreOptions();
  o.redis.connect_timeout_ms = 200;
  redis_.Stop();
  auto store = NewTieredKvStore(o);
  ASSERT_TRUE(store.ok()) << store.status();
  auto put = (*store)->Put(MakeEntry(Tokens(5, 0), 1, 100, 1), {});
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_TRUE((*store)->Get(put->handle().id()).ok());
  EXPECT_EQ((*store)->Tiers().size(), 2u);

  redis_.Start();
  TieredStoreOptions direct = o;
  direct.host_capacity_bytes = 0;  // straight into redis
  auto other = NewTieredKvStore(direct);
  ASSERT_TRUE(other.ok()) << other.status();
  const KvEntry written = MakeEntry(Tokens(6, 0), 2, 300, 2);
  ASSERT_TRUE((*other)->Put(written, Named("from-other")).ok());
  // The first store lists Redis in the background (a readiness wait).
  for (int i = 0; i < 200 && !(*store)->Stat("from-other").ok(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  auto got = (*store)->Get("from-other");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(SameBytes(**got, written));
}

TEST_F(RedisTest, FullHostTierDemotesToRedisAndReadsPromote) {
  TieredStoreOptions o = StoreOptions();
  o.host_capacity_bytes = 2500;  // two 1000-byte entries
  auto store = NewTieredKvStore(o);
  ASSERT_TRUE(store.ok()) << store.status();
  std::vector<KvEntry> entries;
  for (uint32_t i = 0; i < 3; ++i) {
    entries.push_back(MakeEntry(Tokens(4, 0), 1, 1000, i));
    ASSERT_TRUE((*store)->Put(entries.back(), Named("e" + std::to_string(i))).ok());
  }
  EXPECT_EQ((*store)->Stat("e0")->tier(), "redis");
  EXPECT_EQ((*store)->Stat("e1")->tier(), "host");
  EXPECT_EQ((*store)->Stat("e2")->tier(), "host");
  auto host = StatsOf((*store)->Tiers(), "host");
  EXPECT_EQ(host.used_bytes, 2000);
  EXPECT_EQ(host.evictions, 1);
  EXPECT_EQ(host.demotions, 1);

  auto got = (*store)->Get("e0");  // from redis, promoted (evicting e1)
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(SameBytes(**got, entries[0]));
  EXPECT_EQ((*store)->Stat("e0")->tier(), "host");
  EXPECT_EQ((*store)->Stat("e1")->tier(), "redis");
  auto tiers = (*store)->Tiers();
  EXPECT_EQ(StatsOf(tiers, "host").promotions, 1);
  EXPECT_EQ(StatsOf(tiers, "host").misses, 1);
  EXPECT_EQ(StatsOf(tiers, "redis").hits, 1);
  for (uint32_t i = 0; i < 3; ++i) {
    auto e = (*store)->Get("e" + std::to_string(i));
    ASSERT_TRUE(e.ok());
    EXPECT_TRUE(SameBytes(**e, entries[i]));
  }
}

TEST_F(RedisTest, RestartedStoreRebuildsItsIndexFromRedis) {
  TieredStoreOptions o = StoreOptions();
  o.write_through = true;
  const KvEntry full = MakeEntry(Tokens(600, 1000), 2, 300, 7);
  const KvEntry named = MakeEntry(Tokens(10, 0), 1, 50, 8);
  std::string full_id;
  {
    auto store = NewTieredKvStore(o);
    ASSERT_TRUE(store.ok());
    auto put = (*store)->Put(full, {});
    ASSERT_TRUE(put.ok());
    full_id = put->handle().id();
    ASSERT_TRUE((*store)->Put(named, Named("session-1")).ok());
    EXPECT_EQ((*store)->Stat(full_id)->tier(), "host");
    EXPECT_EQ(StatsOf((*store)->Tiers(), "redis").entries, 2);
  }
  auto store = NewTieredKvStore(o);
  ASSERT_TRUE(store.ok());
  auto listed = (*store)->List({});
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->entries_size(), 2);
  EXPECT_EQ((*store)->Stat(full_id)->tier(), "redis");
  auto got = (*store)->Get("session-1");
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(SameBytes(**got, named));
  // The prefix index is back too.
  v1::LookupRequest req;
  req.set_model_fingerprint(kFingerprint);
  req.set_method_spec(kFull);
  for (int32_t t : Tokens(700, 1000)) req.mutable_tokens()->add_ids(t);
  auto found = (*store)->Lookup(req);
  ASSERT_TRUE(found.ok());
  EXPECT_TRUE(found->found());
  EXPECT_EQ(found->handle().id(), full_id);
  EXPECT_EQ(found->matched_tokens(), 512);
}

TEST_F(RedisTest, CorruptValueInRedisIsDataLossQuarantinedAndCounted) {
  TieredStoreOptions o = StoreOptions();
  o.host_capacity_bytes = 0;  // everything lives in redis
  auto store = NewTieredKvStore(o);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->Put(MakeEntry(Tokens(4, 0), 2, 4000, 3), Named("bad")).ok());
  ASSERT_TRUE((*store)->Put(MakeEntry(Tokens(4, 0), 2, 4000, 4), Named("good")).ok());
  EXPECT_EQ((*store)->Stat("bad")->tier(), "redis");
  RedisReplyPtr keys = Raw({"KEYS", "t:bad:chunk:*"});
  ASSERT_TRUE(keys && keys->elements == 2);
  const std::string chunk(keys->element[1]->str, keys->element[1]->len);
  Raw({"SETRANGE", chunk, "100", "\x01\x02\x03"});

  auto got = (*store)->Get("bad");
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss) << got.status();
  EXPECT_EQ((*store)->Get("bad").status().code(), absl::StatusCode::kNotFound);  // never served
  EXPECT_EQ(StatsOf((*store)->Tiers(), "redis").corruptions, 1);
  auto q = (*store)->Quarantined();
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q[0].id, "bad");
  EXPECT_EQ(q[0].tier, "redis");
  EXPECT_EQ(CountKeys("t:bad:quarantined"), 1);
  EXPECT_EQ(CountKeys("t:bad:manifest"), 0);
  EXPECT_TRUE((*store)->Get("good").ok());
  EXPECT_TRUE((*store)->Verify("good").ok());
}

TEST_F(RedisTest, VerifyFindsCorruptionWithoutAGet) {
  TieredStoreOptions o = StoreOptions();
  o.host_capacity_bytes = 0;
  auto store = NewTieredKvStore(o);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->Put(MakeEntry(Tokens(4, 0), 1, 100, 3), Named("x")).ok());
  RedisReplyPtr keys = Raw({"KEYS", "t:x:chunk:*"});
  ASSERT_TRUE(keys && keys->elements == 1);
  Raw({"SETRANGE", std::string_view(keys->element[0]->str, keys->element[0]->len), "0", "zz"});
  EXPECT_EQ((*store)->Verify("x").code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ((*store)->Stat("x").status().code(), absl::StatusCode::kNotFound);
}

// Writers and readers on shared and private keys; host tier small enough to
// keep demoting to redis. Readers must only ever see complete entries.
TEST_F(RedisTest, ConcurrentWritersAndReadersSeeOnlyCompleteEntries) {
  TieredStoreOptions o = StoreOptions();
  // A host tier small enough that concurrent Gets promote from redis while
  // Puts demote: nested evictions must never drop a record in use.
  o.host_capacity_bytes = 6 * 4096;
  o.redis.chunk_bytes = 1500;
  o.redis.pool_size = 8;
  auto made = NewTieredKvStore(o);
  ASSERT_TRUE(made.ok());
  TieredKvStore& store = **made;
  constexpr int kWriters = 4, kReaders = 4, kRounds = 40;
  std::atomic<int> bad{0}, seen{0};
  std::atomic<bool> writers_done{false};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int r = 0; r < kRounds; ++r) {
        const uint32_t seed = static_cast<uint32_t>(w * 1000 + r);
        const std::string key = (r % 2 == 0) ? "shared" + std::to_string(r % 3) : "own" + std::to_string(w);
        if (!store.Put(MakeEntry(Tokens(8, w), 2, 2048, seed), Named(key)).ok()) bad++;
      }
    });
  }
  for (int rd = 0; rd < kReaders; ++rd) {
    threads.emplace_back([&, rd] {
      // Reads until the writers are done (at least kRounds * 3 reads), so the
      // readers overlap the writes however the threads are scheduled.
      for (int i = 0; i < kRounds * 3 || !writers_done.load(); ++i) {
        const std::string key = (i % 2 == 0) ? "shared" + std::to_string(i % 3) : "own" + std::to_string(i % kWriters);
        auto got = store.Get(key);
        if (got.ok()) {
          seen++;
          if (!Consistent(**got)) bad++;
        } else if (!absl::IsNotFound(got.status())) {
          bad++;
        }
      }
    });
  }
  for (int w = 0; w < kWriters; ++w) threads[w].join();
  writers_done = true;
  for (size_t t = kWriters; t < threads.size(); ++t) threads[t].join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(seen.load(), 0);
  // No lost updates: each private key holds its writer's last round.
  for (int w = 0; w < kWriters; ++w) {
    auto got = store.Get("own" + std::to_string(w));
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_TRUE(Consistent(**got));
    EXPECT_EQ((*got)->header.session_turn(), w * 1000 + kRounds - 1);
  }
  for (int s = 0; s < 3; ++s) {
    auto got = store.Get("shared" + std::to_string(s));
    ASSERT_TRUE(got.ok());
    EXPECT_TRUE(Consistent(**got));
  }
  int64_t used = 0;
  for (const TierStats& t : store.Tiers()) {
    if (t.name == "host") {
      EXPECT_LE(t.used_bytes, 6 * 4096);
    }
    used += t.entries;
  }
  EXPECT_EQ(store.List({})->entries_size(), 3 + kWriters);
  EXPECT_GE(used, 3 + kWriters);
}

// --- host tier and the store without redis -----------------------------------

TEST(TieredStoreTest, HostGetSharesTheStoredSnapshot) {
  auto store = NewTieredKvStore({});
  ASSERT_TRUE(store.ok());
  auto put = (*store)->Put(MakeEntry(Tokens(20, 0), 2, 100, 1), {});
  ASSERT_TRUE(put.ok());
  auto a = (*store)->Get(put->handle().id());
  auto b = (*store)->Get(put->handle().id());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->get(), b->get());  // no copy
  EXPECT_EQ((*store)->Stat(put->handle().id())->tier(), "host");
  EXPECT_EQ((*store)->Get("nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(StatsOf((*store)->Tiers(), "host").hits, 2);
  EXPECT_TRUE((*store)->Delete(put->handle().id()).ok());
  EXPECT_EQ((*store)->Delete(put->handle().id()).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(StatsOf((*store)->Tiers(), "host").used_bytes, 0);
}

TEST(TieredStoreTest, RejectsCorruptPutsBadNamesAndOversizedEntries) {
  TieredStoreOptions o;
  o.host_capacity_bytes = 1000;
  auto store = NewTieredKvStore(o);
  ASSERT_TRUE(store.ok());
  KvEntry e = MakeEntry(Tokens(4, 0), 1, 100, 1);
  e.layers[0][3] ^= 1;
  EXPECT_EQ((*store)->Put(e, {}).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ((*store)->Put(MakeEntry(Tokens(4, 0), 1, 10, 1), Named("a:b")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*store)->Put(MakeEntry(Tokens(4, 0), 1, 2000, 1), {}).status().code(),
            absl::StatusCode::kResourceExhausted);
}

// Cache poisoning (issue 26): a name cannot take a content id's place, and
// another payload put under an existing content id does not replace it.
TEST(TieredStoreTest, ContentIdsCannotBeOverwrittenOrNamed) {
  auto store = NewTieredKvStore({});
  ASSERT_TRUE(store.ok());
  const KvEntry original = MakeEntry(Tokens(20, 0), 2, 100, 1);
  auto put = (*store)->Put(original, {});
  ASSERT_TRUE(put.ok());
  const std::string id = put->handle().id();
  ASSERT_TRUE(IsContentKey(id));
  auto named = (*store)->Put(MakeEntry(Tokens(20, 100), 2, 100, 2), Named(id));
  EXPECT_EQ(named.status().code(), absl::StatusCode::kInvalidArgument) << named.status();
  // Same header (so the same content key), other bytes: the first one stays.
  auto again = (*store)->Put(MakeEntry(Tokens(20, 0), 2, 100, 7), {});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->handle().id(), id);
  auto got = (*store)->Get(id);
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(SameBytes(**got, original));
  EXPECT_TRUE(Consistent(**got));
  // Names of other shapes still work.
  EXPECT_TRUE((*store)->Put(MakeEntry(Tokens(20, 100), 2, 100, 2), Named("session-1")).ok());
}

TEST(TieredStoreTest, LeaseTtlIsBounded) {
  auto store = NewTieredKvStore({});
  ASSERT_TRUE(store.ok());
  auto put = (*store)->Put(MakeEntry(Tokens(8, 0), 1, 100, 1), {});
  ASSERT_TRUE(put.ok());
  EXPECT_EQ((*store)->Lease(put->handle().id(), std::numeric_limits<int64_t>::max()).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto lease = (*store)->Lease(put->handle().id(), 60000);
  ASSERT_TRUE(lease.ok());
  EXPECT_EQ((*store)->Delete(put->handle().id()).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(TieredStoreTest, PinnedAndLeasedEntriesAreNotEvictedAndLeasesExpire) {
  int64_t now = 1000;
  TieredStoreOptions o;
  o.host_capacity_bytes = 2000;
  o.clock_ms = [&] { return now; };
  auto store = NewTieredKvStore(o);
  ASSERT_TRUE(store.ok());
  TieredKvStore& s = **store;
  ASSERT_TRUE(s.Put(MakeEntry(Tokens(4, 0), 1, 1000, 1), Named("pinned")).ok());
  ASSERT_TRUE(s.Put(MakeEntry(Tokens(4, 0), 1, 1000, 2), Named("leased")).ok());
  ASSERT_TRUE(s.Pin("pinned").ok());
  auto lease = s.Lease("leased", 500);
  ASSERT_TRUE(lease.ok());
  EXPECT_EQ(s.Delete("pinned").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.Delete("leased").code(), absl::StatusCode::kFailedPrecondition);
  // No room: both residents are protected.
  EXPECT_EQ(s.Put(MakeEntry(Tokens(4, 0), 1, 1000, 3), Named("new")).status().code(),
            absl::StatusCode::kResourceExhausted);
  now += 501;  // the lease expires
  ASSERT_TRUE(s.Put(MakeEntry(Tokens(4, 0), 1, 1000, 3), Named("new")).ok());
  EXPECT_TRUE(s.Stat("pinned").ok());
  EXPECT_EQ(s.Stat("leased").status().code(), absl::StatusCode::kNotFound);  // evicted, nowhere to go
  EXPECT_EQ(s.Release(*lease).code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(s.Unpin("pinned").ok());
  auto l2 = s.Lease("new", 100);
  ASSERT_TRUE(l2.ok());
  EXPECT_TRUE(s.Release(*l2).ok());
  EXPECT_EQ(s.Lease("new", 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.Pin("ghost").code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(s.Delete("pinned").ok());
}

TEST(TieredStoreTest, LookupFindsExactAndLongestBlockPrefix) {
  auto store = NewTieredKvStore({});
  ASSERT_TRUE(store.ok());
  auto full = (*store)->Put(MakeEntry(Tokens(600, 0), 1, 10, 1), {});
  auto compressed = (*store)->Put(MakeEntry(Tokens(600, 0), 1, 10, 2, kCompressed), {});
  ASSERT_TRUE(full.ok() && compressed.ok());
  auto lookup = [&](const std::string& method, const std::vector<int32_t>& tokens) {
    v1::LookupRequest req;
    req.set_model_fingerprint(kFingerprint);
    req.set_method_spec(method);
    for (int32_t t : tokens) req.mutable_tokens()->add_ids(t);
    return *(*store)->Lookup(req);
  };
  auto exact = lookup(kFull, Tokens(600, 0));
  EXPECT_TRUE(exact.found());
  EXPECT_EQ(exact.matched_tokens(), 600);
  EXPECT_EQ(exact.handle().id(), full->handle().id());

  std::vector<int32_t> longer = Tokens(900, 0);
  auto prefix = lookup(kFull, longer);
  EXPECT_TRUE(prefix.found());
  EXPECT_EQ(prefix.matched_tokens(), 512);
  EXPECT_EQ(prefix.handle().id(), full->handle().id());

  std::vector<int32_t> diverging = Tokens(900, 0);
  diverging[300] = -1;  // second block differs
  EXPECT_EQ(lookup(kFull, diverging).matched_tokens(), 256);
  diverging[10] = -1;
  EXPECT_FALSE(lookup(kFull, diverging).found());

  EXPECT_TRUE(lookup(kCompressed, Tokens(600, 0)).found());  // exact only
  EXPECT_FALSE(lookup(kCompressed, longer).found());
  ASSERT_TRUE((*store)->Delete(full->handle().id()).ok());
  EXPECT_FALSE(lookup(kFull, longer).found());
}

// --- disk tier -----------------------------------------------------------

TEST(DiskTierTest, RoundTripRestartAndCorruption) {
  testing::TempDir dir;
  TieredStoreOptions o;
  o.host_capacity_bytes = 0;
  o.disk.dir = dir.path();
  const KvEntry a = MakeEntry(Tokens(300, 5), 3, 5000, 1);
  const KvEntry b = MakeEntry(Tokens(10, 5), 1, 700, 2);
  {
    auto store = NewTieredKvStore(o);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->Put(a, Named("a")).ok());
    ASSERT_TRUE((*store)->Put(b, Named("b")).ok());
    EXPECT_EQ((*store)->Stat("a")->tier(), "disk");
    auto got = (*store)->Get("a");
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_TRUE(SameBytes(**got, a));
  }
  auto store = NewTieredKvStore(o);  // restart
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->List({})->entries_size(), 2);
  // Flip a payload byte of "a" by hand.
  const std::string path = dir.Join("a.kv");
  std::string bytes = testing::ReadFile(path);
  bytes[bytes.size() - 10] ^= 0x40;
  testing::WriteFile(path, bytes);
  EXPECT_EQ((*store)->Get("a").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ((*store)->Get("a").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(StatsOf((*store)->Tiers(), "disk").corruptions, 1);
  EXPECT_TRUE(std::ifstream(dir.Join("a.kv.quarantined")).good());
  auto got = (*store)->Get("b");
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(SameBytes(**got, b));
}

TEST(DiskTierTest, ReplacesAtomicallyAndCleansStaleTemporaries) {
  testing::TempDir dir;
  testing::WriteFile(dir.Join(".x.1-1.tmp"), "half");
  auto tier = DiskTier::Create({dir.path()});
  ASSERT_TRUE(tier.ok());
  EXPECT_FALSE(std::ifstream(dir.Join(".x.1-1.tmp")).good());
  ASSERT_TRUE((*tier)->Put("x", std::make_shared<const KvEntry>(MakeEntry(Tokens(3, 0), 1, 10, 1))).ok());
  const KvEntry second = MakeEntry(Tokens(3, 0), 2, 20, 2);
  ASSERT_TRUE((*tier)->Put("x", std::make_shared<const KvEntry>(second)).ok());
  auto got = (*tier)->Get("x");
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(SameBytes(**got, second));
  EXPECT_EQ((*tier)->List()->size(), 1u);
  ASSERT_TRUE((*tier)->Delete("x").ok());
  EXPECT_EQ((*tier)->Get("x").status().code(), absl::StatusCode::kNotFound);
}

// A disk entry whose length fields lie (the manifest length, or layer sizes
// the chunks do not hold) is data loss, found before anything is sized by
// them (a lying length used to allocate 4.3 GB first).
TEST(DiskTierTest, LyingLengthsAreDataLossBeforeAllocation) {
  testing::TempDir dir;
  auto tier = DiskTier::Create({dir.path()});
  ASSERT_TRUE(tier.ok());
  ASSERT_TRUE((*tier)->Put("x", std::make_shared<const KvEntry>(MakeEntry(Tokens(3, 0), 2, 100, 1))).ok());
  std::string file;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) file = e.path().string();
  const std::string original = testing::ReadFile(file);
  std::string lying = original;
  const uint64_t len = uint64_t{4} << 30;  // the manifest length field follows the 8-byte magic
  std::memcpy(lying.data() + 8, &len, sizeof(len));
  testing::WriteFile(file, lying);
  auto got = (*tier)->Get("x");
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss) << got.status();
  EXPECT_NE(got.status().message().find("does not fit"), std::string::npos) << got.status();
  // A well-formed manifest (valid checksum) whose header promises more layer
  // bytes than its chunks hold.
  KvEntry promise = MakeEntry(Tokens(3, 0), 2, 100, 1);
  Manifest m = PlanManifest(promise, 7, 1 << 20);
  m.header.set_layer_bytes(1, int64_t{1} << 40);
  const std::string encoded = EncodeManifest(m);
  std::string crafted(original.substr(0, 8));
  const uint64_t mlen = encoded.size();
  crafted.append(reinterpret_cast<const char*>(&mlen), sizeof(mlen));
  crafted += encoded;
  for (const ChunkInfo& c : m.chunks) crafted += std::string(ChunkBytes(promise, c));
  testing::WriteFile(file, crafted);
  got = (*tier)->Get("x");
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss) << got.status();
}

TEST(HostTierTest, KeepsTheObjectItWasGiven) {
  HostTier tier;
  auto e = std::make_shared<const KvEntry>(MakeEntry(Tokens(3, 0), 1, 10, 1));
  ASSERT_TRUE(tier.Put("x", e).ok());
  EXPECT_EQ(tier.Get("x")->get(), e.get());
  EXPECT_EQ(tier.List()->size(), 1u);
  ASSERT_TRUE(tier.Delete("x").ok());
  EXPECT_EQ(tier.Get("x").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace kvlab
