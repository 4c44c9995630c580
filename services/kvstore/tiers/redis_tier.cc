#include "services/kvstore/tiers/redis_tier.h"

#include <hiredis/hiredis.h>
#include <xxhash.h>

#include <chrono>
#include <cstring>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "spdlog/spdlog.h"

namespace kvlab {
namespace {

constexpr int64_t kChunkTtlMarginS = 60;
// Bytes of queued SETs after which a Put collects replies (bounds the
// client's output buffer).
constexpr int64_t kPipelineBytes = 64ll << 20;
constexpr char kManifestSuffix[] = ":manifest";
constexpr size_t kManifestSuffixSize = sizeof(kManifestSuffix) - 1;

std::string_view View(const redisReply& r) { return std::string_view(r.str, r.len); }

bool IsString(const redisReply& r) { return r.type == REDIS_REPLY_STRING; }

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// absl::Status has no status(); give it one for Call.
struct StatusBox {
  StatusBox(absl::Status status) : s(std::move(status)) {}  // NOLINT: implicit on purpose
  absl::Status s;
  bool ok() const { return s.ok(); }
  const absl::Status& status() const { return s; }
};

}  // namespace

template <typename Fn>
auto RedisTier::Call(Fn fn) -> decltype(fn(std::declval<RedisConnection&>())) {
  const int64_t until = skip_until_ms_.load();
  if (until != 0 && SteadyMs() < until) {
    return absl::UnavailableError(absl::StrCat("redis tier at ", options_.connection.address, ":",
                                               options_.connection.port, " is skipped for ", until - SteadyMs(),
                                               " ms more after failing"));
  }
  for (int attempt = 0;; ++attempt) {
    auto handle = pool_.Acquire();
    decltype(fn(std::declval<RedisConnection&>())) result =
        handle.ok() ? fn(**handle) : decltype(fn(std::declval<RedisConnection&>()))(handle.status());
    if (attempt == 0 && handle.ok() && !result.ok() && (*handle)->broken() && absl::IsUnavailable(result.status())) {
      continue;
    }
    const bool unreachable = absl::IsUnavailable(result.status()) || absl::IsDeadlineExceeded(result.status());
    skip_until_ms_.store(unreachable && options_.cooldown_ms > 0 ? SteadyMs() + options_.cooldown_ms : 0);
    return result;
  }
}

RedisTier::RedisTier(const RedisTierOptions& options)
    : options_(options), pool_(options.connection), generation_base_(std::random_device{}() * 0x9E3779B97F4A7C15ull ^
                                                                     std::random_device{}()) {}

absl::StatusOr<std::unique_ptr<RedisTier>> RedisTier::Create(const RedisTierOptions& options) {
  if (options.chunk_bytes <= 0 || options.chunk_bytes > (512ll << 20)) {
    return absl::InvalidArgumentError(
        absl::StrCat("redis chunk_bytes must be in (0, 512 MiB] (Redis' value limit), got ", options.chunk_bytes));
  }
  if (options.ttl_s < 0) return absl::InvalidArgumentError("redis ttl_s must not be negative");
  if (options.key_prefix.empty() || options.key_prefix.find_first_of("*?[]: ") != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("redis key_prefix '", options.key_prefix, "' must be non-empty without ':', spaces or globs"));
  }
  std::unique_ptr<RedisTier> tier(new RedisTier(options));
  // The server may be down now: the tier is still made (each call connects
  // on demand and fails with UNAVAILABLE meanwhile), so that a kvstore
  // starts and serves its other tiers while Redis is away.
  auto handle = tier->pool_.Acquire();
  absl::Status ping = handle.ok() ? (*handle)->Command({"PING"}).status() : handle.status();
  if (!ping.ok()) {
    spdlog::warn("redis tier: {}:{} does not answer yet ({}); it is used once it does",
                 options.connection.address, options.connection.port, ping.ToString());
  }
  return tier;
}

std::string RedisTier::ManifestKey(const std::string& id) const {
  return absl::StrCat(options_.key_prefix, ":", id, kManifestSuffix);
}

std::string RedisTier::ChunkKey(const std::string& id, uint64_t generation, size_t n) const {
  return absl::StrFormat("%s:%s:chunk:%016x:%d", options_.key_prefix, id, generation, n);
}

std::string RedisTier::QuarantineKey(const std::string& id) const {
  return absl::StrCat(options_.key_prefix, ":", id, ":quarantined");
}

uint64_t RedisTier::NextGeneration() {
  return XXH3_64bits_withSeed(&generation_base_, sizeof(generation_base_), ++generation_counter_);
}

void RedisTier::UnlinkChunks(RedisConnection& conn, const std::string& id, const Manifest& manifest) {
  if (conn.broken() || manifest.chunks.empty()) return;
  std::vector<std::string> keys;
  keys.reserve(manifest.chunks.size());
  for (size_t i = 0; i < manifest.chunks.size(); ++i) keys.push_back(ChunkKey(id, manifest.generation, i));
  std::vector<std::string_view> args{"UNLINK"};
  for (const std::string& k : keys) args.push_back(k);
  auto r = conn.Command(args);
  if (!r.ok()) spdlog::warn("redis tier: unlinking chunks of '{}' failed: {}", id, std::string(r.status().message()));
}

absl::Status RedisTier::Put(const std::string& id, std::shared_ptr<const KvEntry> entry) {
  return Call([&](RedisConnection& conn) { return StatusBox{PutOnce(conn, id, *entry)}; }).s;
}

absl::Status RedisTier::PutOnce(RedisConnection& conn, const std::string& id, const KvEntry& entry) {
  const Manifest manifest = PlanManifest(entry, NextGeneration(), options_.chunk_bytes);
  const std::string chunk_ttl = absl::StrCat(options_.ttl_s + kChunkTtlMarginS);
  // Payload chunks first, pipelined in batches.
  size_t sent = 0, acked = 0;
  absl::Status failure;
  while (acked < manifest.chunks.size() && failure.ok()) {
    int64_t queued = 0;
    std::vector<std::string> keys;
    while (sent < manifest.chunks.size() && (queued == 0 || queued < kPipelineBytes)) {
      const ChunkInfo& c = manifest.chunks[sent];
      keys.push_back(ChunkKey(id, manifest.generation, sent));
      std::vector<std::string_view> args{"SET", keys.back(), ChunkBytes(entry, c)};
      if (options_.ttl_s > 0) {
        args.push_back("EX");
        args.push_back(chunk_ttl);
      }
      absl::Status s = conn.AppendDirect(args);
      if (!s.ok()) return s;
      queued += static_cast<int64_t>(c.size) + 1;
      ++sent;
    }
    for (; acked < sent; ++acked) {
      auto reply = conn.GetReply();
      if (!reply.ok()) return reply.status();  // connection broken: nothing more to read
      absl::Status s = ReplyStatus(**reply);
      if (!s.ok() && failure.ok()) failure = s;
    }
  }
  if (!failure.ok()) {
    Manifest partial = manifest;
    partial.chunks.resize(sent);
    UnlinkChunks(conn, id, partial);
    return failure;
  }
  // Then the manifest, atomically swapping out the previous one.
  const std::string manifest_key = ManifestKey(id);
  const std::string encoded = EncodeManifest(manifest);
  const std::string ttl = absl::StrCat(options_.ttl_s);
  std::vector<std::string_view> args{"SET", manifest_key, encoded, "GET"};
  if (options_.ttl_s > 0) {
    args.push_back("EX");
    args.push_back(ttl);
  }
  auto old = conn.Command(args);
  if (!old.ok()) {
    UnlinkChunks(conn, id, manifest);
    return old.status();
  }
  if (IsString(**old)) {
    auto previous = DecodeManifest(View(**old));
    if (previous.ok() && previous->generation != manifest.generation) UnlinkChunks(conn, id, *previous);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const KvEntry>> RedisTier::Get(const std::string& id) {
  return Call([&](RedisConnection& conn) { return GetOnce(conn, id); });
}

absl::StatusOr<std::shared_ptr<const KvEntry>> RedisTier::GetOnce(RedisConnection& conn, const std::string& id) {
  const std::string manifest_key = ManifestKey(id);
  KVLAB_ASSIGN_OR_RETURN(RedisReplyPtr m, conn.Command({"GET", manifest_key}));
  if (!IsString(*m)) return absl::NotFoundError(absl::StrCat("redis tier has no entry '", id, "'"));
  auto decoded = DecodeManifest(View(*m));
  if (!decoded.ok()) {
    return absl::DataLossError(absl::StrCat("redis entry '", id, "': ", decoded.status().message()));
  }
  Manifest manifest = std::move(*decoded);
  m.reset();

  auto entry = std::make_shared<KvEntry>();
  entry->layers.resize(manifest.header.layer_bytes_size());
  std::vector<std::string> keys;
  keys.reserve(manifest.chunks.size());
  for (size_t i = 0; i < manifest.chunks.size(); ++i) {
    keys.push_back(ChunkKey(id, manifest.generation, i));
    KVLAB_RETURN_IF_ERROR(conn.Append({"GET", keys.back()}));
  }
  bool missing = false;
  absl::Status failure;
  for (size_t i = 0; i < manifest.chunks.size(); ++i) {
    KVLAB_ASSIGN_OR_RETURN(RedisReplyPtr reply, conn.GetReply());  // drains every reply
    if (!failure.ok() || missing) continue;
    if (!IsString(*reply)) {
      failure = ReplyStatus(*reply);
      if (failure.ok()) missing = true;
      continue;
    }
    const ChunkInfo& c = manifest.chunks[i];
    const std::string_view bytes = View(*reply);
    if (bytes.size() != c.size || XXH3_64bits(bytes.data(), bytes.size()) != c.checksum) {
      failure = absl::DataLossError(
          absl::StrCat("redis entry '", id, "': chunk ", i, " (layer ", c.layer, ") does not match its checksum"));
      continue;
    }
    std::string& layer = entry->layers[c.layer];
    const uint64_t layer_size = static_cast<uint64_t>(manifest.header.layer_bytes(static_cast<int>(c.layer)));
    if (c.offset == 0 && c.size == layer_size) {
      layer.assign(bytes.data(), bytes.size());
    } else {
      if (layer.size() != layer_size) layer.resize(layer_size);
      std::memcpy(layer.data() + c.offset, bytes.data(), bytes.size());
    }
  }
  if (!failure.ok()) return failure;
  if (missing) {
    // Replaced or deleted while we read (the old generation was unlinked), or
    // a chunk was lost.
    KVLAB_ASSIGN_OR_RETURN(RedisReplyPtr again, conn.Command({"GET", manifest_key}));
    if (!IsString(*again)) return absl::AbortedError(absl::StrCat("redis entry '", id, "' was deleted while read"));
    auto now = DecodeManifest(View(*again));
    if (now.ok() && now->generation != manifest.generation) {
      return absl::AbortedError(absl::StrCat("redis entry '", id, "' was replaced while read"));
    }
    return absl::DataLossError(absl::StrCat("redis entry '", id, "' is missing payload chunks"));
  }
  entry->header = std::move(manifest.header);
  return std::shared_ptr<const KvEntry>(std::move(entry));
}

absl::Status RedisTier::Delete(const std::string& id) {
  return Call([&](RedisConnection& conn) { return StatusBox{DeleteOnce(conn, id)}; }).s;
}

absl::Status RedisTier::DeleteOnce(RedisConnection& conn, const std::string& id) {
  const std::string manifest_key = ManifestKey(id);
  // GETDEL: the manifest goes first, atomically with reading its chunk list.
  KVLAB_ASSIGN_OR_RETURN(RedisReplyPtr m, conn.Command({"GETDEL", manifest_key}));
  if (!IsString(*m)) return absl::OkStatus();
  auto manifest = DecodeManifest(View(*m));
  if (manifest.ok()) UnlinkChunks(conn, id, *manifest);
  return absl::OkStatus();
}

absl::Status RedisTier::Quarantine(const std::string& id) {
  return Call([&](RedisConnection& conn) {
           const std::string from = ManifestKey(id), to = QuarantineKey(id);
           auto r = conn.Command({"RENAME", from, to});
           if (!r.ok() && !conn.broken()) return StatusBox{absl::OkStatus()};  // "no such key"
           return StatusBox{r.status()};
         })
      .s;
}

absl::StatusOr<std::vector<TierListing>> RedisTier::List() {
  return Call([&](RedisConnection& conn) { return ListOnce(conn); });
}

absl::StatusOr<std::vector<TierListing>> RedisTier::ListOnce(RedisConnection& conn) {
  const std::string pattern = absl::StrCat(options_.key_prefix, ":*", kManifestSuffix);
  std::vector<std::string> keys;
  std::string cursor = "0";
  do {
    KVLAB_ASSIGN_OR_RETURN(RedisReplyPtr r, conn.Command({"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"}));
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) return absl::InternalError("redis: malformed SCAN reply");
    cursor = std::string(View(*r->element[0]));
    const redisReply& batch = *r->element[1];
    for (size_t i = 0; i < batch.elements; ++i) keys.emplace_back(View(*batch.element[i]));
  } while (cursor != "0");

  std::vector<TierListing> out;
  const size_t prefix = options_.key_prefix.size() + 1;
  for (const std::string& key : keys) KVLAB_RETURN_IF_ERROR(conn.Append({"GET", key}));
  for (const std::string& key : keys) {
    KVLAB_ASSIGN_OR_RETURN(RedisReplyPtr r, conn.GetReply());
    if (!IsString(*r)) continue;  // deleted or expired since the scan
    std::string id = key.substr(prefix, key.size() - prefix - kManifestSuffixSize);
    auto manifest = DecodeManifest(View(*r));
    if (!manifest.ok()) {
      spdlog::warn("redis tier: skipping entry '{}': {}", id, std::string(manifest.status().message()));
      continue;
    }
    const int64_t bytes = manifest->payload_bytes();
    out.push_back(TierListing{std::move(id), std::move(manifest->header), bytes});
  }
  return out;
}

}  // namespace kvlab
