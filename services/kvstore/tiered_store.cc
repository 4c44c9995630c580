#include "services/kvstore/tiered_store.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <list>
#include <map>
#include <set>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "kvcache/entry_key.h"
#include "kvcache/method_spec.h"
#include "services/kvstore/prefix_index.h"
#include "services/kvstore/tiers/disk_tier.h"
#include "services/kvstore/tiers/host_tier.h"
#include "services/kvstore/tiers/redis_tier.h"
#include "spdlog/spdlog.h"
#ifdef KVLAB_HAVE_CUDA
#include "services/kvstore/tiers/device_tier.h"
#endif

namespace kvlab {
namespace {

constexpr size_t kMaxTiers = 4;
constexpr int kGetAttempts = 4;

int64_t SystemClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Names: letters, digits, '-', '_', '.'; at most 200 characters.
// The longest lease (one week): leases keep entries of running sessions; a
// longer one is a client error (and now + ttl must not overflow).
constexpr int64_t kMaxLeaseMs = int64_t{7} * 24 * 3600 * 1000;

// Names never look like content keys (see IsContentKey).
bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > 200 || IsContentKey(name)) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

std::span<const int32_t> TokensOf(const v1::KvEntryHeader& h) { return {h.tokens().data(), static_cast<size_t>(h.tokens().size())}; }

std::string ContentKey(const v1::KvEntryHeader& h) {
  return EntryKey(h.model_fingerprint(), h.method_spec(), TokensOf(h));
}

bool IsFullMethod(const std::string& method_spec) {
  auto spec = ParseMethodSpec(method_spec);
  return spec.ok() && spec->kv == "full";
}

v1::CacheHandle HandleOf(const std::string& id, const v1::KvEntryHeader& h) {
  v1::CacheHandle handle;
  handle.set_id(id);
  handle.set_model_fingerprint(h.model_fingerprint());
  handle.set_method_spec(h.method_spec());
  handle.set_n_tokens(h.tokens_size());
  return handle;
}

absl::Status UnknownId(const std::string& id) {
  return absl::NotFoundError(absl::StrCat("no KV entry with id '", id, "'"));
}

class TieredKvStoreImpl : public TieredKvStore {
 public:
  explicit TieredKvStoreImpl(const TieredStoreOptions& options) : options_(options) {
    if (!options_.clock_ms) options_.clock_ms = SystemClockMs;
  }
  ~TieredKvStoreImpl() override {
    {
      std::lock_guard<std::mutex> lock(restore_mu_);
      stopping_ = true;
    }
    restore_cv_.notify_all();
    if (restorer_.joinable()) restorer_.join();
  }

  // Adds the next slower tier; `capacity` 0 on a persistent tier = unlimited.
  void AddTier(std::unique_ptr<Tier> tier, int64_t capacity) {
    Slot s;
    s.unlimited = tier->persistent() && capacity == 0;
    s.capacity = capacity;
    s.tier = std::move(tier);
    slots_.push_back(std::move(s));
  }

  // Indexes what the persistent tiers hold (after a restart). A tier that
  // cannot be reached now (Redis down) is left out with a warning and
  // indexed by a background thread once it answers: the store serves its
  // other tiers meanwhile.
  absl::Status Restore() {
    bool pending = false;
    for (size_t t = 0; t < slots_.size(); ++t) {
      if (!slots_[t].tier->persistent()) continue;
      absl::StatusOr<std::vector<TierListing>> listing = slots_[t].tier->List();
      if (absl::IsUnavailable(listing.status()) || absl::IsDeadlineExceeded(listing.status())) {
        spdlog::warn("kvstore: the {} tier is unreachable ({}); serving without it until it answers",
                     slots_[t].tier->name(), listing.status().ToString());
        slots_[t].restored = false;
        pending = true;
        continue;
      }
      if (!listing.ok()) return listing.status();
      IndexListing(t, *std::move(listing));
    }
    if (pending) restorer_ = std::thread([this] { RestoreLater(); });
    return absl::OkStatus();
  }

  // Adds what tier t lists to the index.
  void IndexListing(size_t t, std::vector<TierListing> listing) {
    std::lock_guard<std::mutex> lock(mu_);
    for (TierListing& l : listing) {
      if (!ValidName(l.id) && !IsContentKey(l.id)) continue;  // not a key kvlab wrote
      auto [it, inserted] = records_.try_emplace(l.id);
      Record& rec = it->second;
      if (inserted) {
        rec.header = std::make_shared<const v1::KvEntryHeader>(std::move(l.header));
        rec.bytes = l.bytes;
        rec.access_ms = rec.header->created_unix_ms();
        rec.version = ++next_version_;
        IndexRecord(l.id, rec);
      } else if (rec.bytes != l.bytes || (rec.residency & Bit(t))) {
        if (rec.bytes != l.bytes) {
          spdlog::warn("kvstore: tier {} holds a different version of '{}'; ignoring it", slots_[t].tier->name(),
                       l.id);
        }
        continue;
      }
      AddCopy(l.id, rec, t);
    }
    slots_[t].restored = true;
    spdlog::info("kvstore: restored {} entries from the {} tier", listing.size(), slots_[t].tier->name());
  }

  // Retries the tiers Restore could not reach, every 2 s, until each answers.
  void RestoreLater() {
    std::unique_lock<std::mutex> lock(restore_mu_);
    while (!stopping_) {
      restore_cv_.wait_for(lock, std::chrono::seconds(2));
      if (stopping_) return;
      bool pending = false;
      for (size_t t = 0; t < slots_.size(); ++t) {
        if (!slots_[t].tier->persistent() || slots_[t].restored) continue;
        lock.unlock();
        absl::StatusOr<std::vector<TierListing>> listing = slots_[t].tier->List();
        if (listing.ok()) IndexListing(t, *std::move(listing));
        lock.lock();
        pending = pending || !listing.ok();
      }
      if (!pending) return;
    }
  }

  absl::StatusOr<v1::PutResponse> Put(KvEntry entry, const v1::PutOptions& options) override {
    KVLAB_RETURN_IF_ERROR(VerifyEntry(entry));
    std::string id;
    if (!options.name().empty()) {
      if (!ValidName(options.name())) {
        return absl::InvalidArgumentError(absl::StrCat("entry name '", options.name(),
                                                       "' must be 1-200 letters, digits, '-', '_' or '.', and not "
                                                       "32 hex digits (the shape of content ids)"));
      }
      id = options.name();
    } else {
      id = ContentKey(entry.header);
    }
    const int64_t bytes = entry.payload_bytes();
    auto shared = std::make_shared<const KvEntry>(std::move(entry));
    v1::PutResponse response;
    *response.mutable_handle() = HandleOf(id, shared->header);
    response.set_bytes(bytes);

    std::lock_guard<std::mutex> lock(mu_);
    if (options.name().empty()) {
      // Content-addressed: the first entry stored under a key stays; another
      // payload for the same key never replaces it.
      auto existing = records_.find(id);
      if (existing != records_.end() && existing->second.header != nullptr) {
        const v1::KvEntryHeader& old = *existing->second.header;
        if (!std::equal(old.layer_checksums().begin(), old.layer_checksums().end(),
                        shared->header.layer_checksums().begin(), shared->header.layer_checksums().end()) ||
            old.codec() != shared->header.codec()) {
          spdlog::warn("kvstore: a different payload was put under content id '{}'; keeping the stored one", id);
        }
        *response.mutable_handle() = HandleOf(id, old);
        response.set_bytes(existing->second.bytes);
        existing->second.access_ms = options_.clock_ms();
        return response;
      }
    }
    if (!AnyTierFits(bytes)) {
      return absl::ResourceExhaustedError(absl::StrCat("entry of ", bytes, " bytes exceeds the capacity of every ",
                                                       "store tier (host ", options_.host_capacity_bytes, " bytes)"));
    }
    Record& rec = records_[id];
    // Take the old copies out of the accounting; their bytes stay readable
    // until the new entry replaces them (tier Puts replace atomically).
    const uint32_t old_residency = rec.residency;
    for (size_t t = 0; t < slots_.size(); ++t) {
      if (old_residency & Bit(t)) ForgetCopy(id, rec, t);
    }
    index_.Erase(id);
    rec.header = std::make_shared<const v1::KvEntryHeader>(shared->header);  // not aliasing: keep no payload
    rec.bytes = bytes;
    rec.access_ms = options_.clock_ms();
    rec.version = ++next_version_;
    const int placed = PlaceIn(id, rec, shared, 0);
    if (placed >= 0 && options_.write_through && !slots_[placed].tier->persistent()) {
      const int persistent = FirstPersistentTier();
      if (persistent >= 0 && PlaceIn(id, rec, shared, persistent) < 0) {
        spdlog::warn("kvstore: write-through of '{}' to the persistent tier failed", id);
      }
    }
    for (size_t t = 0; t < slots_.size(); ++t) {
      if ((old_residency & Bit(t)) && !(rec.residency & Bit(t))) DeleteFromTier(id, t);
    }
    if (placed < 0) {
      EraseRecord(id);
      return absl::ResourceExhaustedError(absl::StrCat("no store tier has room for an entry of ", bytes,
                                                       " bytes (pinned and leased entries cannot be evicted)"));
    }
    IndexRecord(id, rec);
    return response;
  }

  absl::StatusOr<std::shared_ptr<const KvEntry>> Get(const std::string& id) override {
    for (int attempt = 0; attempt < kGetAttempts; ++attempt) {
      size_t t = 0;
      uint64_t version = 0;
      {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = records_.find(id);
        if (it == records_.end()) {
          for (Slot& s : slots_) ++s.misses;
          return UnknownId(id);
        }
        Record& rec = it->second;
        t = FastestCopy(rec);
        for (size_t u = 0; u < t; ++u) ++slots_[u].misses;
        ++slots_[t].hits;
        Touch(id, rec, t);
        version = rec.version;
      }
      absl::StatusOr<std::shared_ptr<const KvEntry>> got = slots_[t].tier->Get(id);
      if (got.ok()) {
        absl::Status s = VerifyEntry(**got);  // the expensive part, outside the lock
        if (!s.ok()) got = absl::DataLossError(s.message());
      }
      std::lock_guard<std::mutex> lock(mu_);
      auto it = records_.find(id);
      const bool unchanged =
          it != records_.end() && it->second.version == version && (it->second.residency & Bit(t));
      if (got.ok()) {
        if (unchanged && t > 0) Promote(id, it->second, t, *got);
        return got;
      }
      if (!unchanged || absl::IsAborted(got.status())) continue;  // replaced or moved meanwhile
      if (absl::IsDataLoss(got.status())) {
        QuarantineLocked(id, t, got.status());
        return absl::DataLossError(absl::StrCat("KV entry '", id, "' is corrupt in the ", slots_[t].tier->name(),
                                                " tier and was quarantined: ", got.status().message()));
      }
      if (absl::IsNotFound(got.status())) {
        // Gone from the tier behind our back (e.g. Redis TTL): forget it.
        ForgetCopy(id, it->second, t);
        if (it->second.residency == 0) EraseRecord(id);
        continue;
      }
      return got.status();
    }
    return absl::AbortedError(absl::StrCat("KV entry '", id, "' kept changing while being read; retry"));
  }

  absl::StatusOr<v1::LookupResponse> Lookup(const v1::LookupRequest& request) override {
    const std::span<const int32_t> tokens(request.tokens().ids().data(),
                                         static_cast<size_t>(request.tokens().ids_size()));
    const std::string exact = EntryKey(request.model_fingerprint(), request.method_spec(), tokens);
    v1::LookupResponse response;
    std::lock_guard<std::mutex> lock(mu_);
    auto it = records_.find(exact);
    if (it != records_.end()) {
      response.set_found(true);
      *response.mutable_handle() = HandleOf(exact, *it->second.header);
      response.set_matched_tokens(static_cast<int64_t>(tokens.size()));
      return response;
    }
    if (tokens.size() < static_cast<size_t>(PrefixIndex::kBlockTokens) || !IsFullMethod(request.method_spec())) {
      return response;
    }
    auto match = index_.Longest(request.model_fingerprint(), request.method_spec(), tokens,
                                [&](const std::string& id, int64_t matched) {
                                  auto r = records_.find(id);
                                  if (r == records_.end()) return false;
                                  const auto& have = r->second.header->tokens();
                                  return have.size() >= matched &&
                                         std::equal(tokens.begin(), tokens.begin() + matched, have.begin());
                                });
    if (match) {
      response.set_found(true);
      *response.mutable_handle() = HandleOf(match->id, *records_.at(match->id).header);
      response.set_matched_tokens(match->matched_tokens);
    }
    return response;
  }

  absl::StatusOr<v1::EntryInfo> Stat(const std::string& id) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = records_.find(id);
    if (it == records_.end()) return UnknownId(id);
    return Info(id, it->second);
  }

  absl::StatusOr<v1::ListResponse> List(const v1::ListRequest& request) override {
    v1::ListResponse response;
    std::lock_guard<std::mutex> lock(mu_);
    std::map<std::string, const Record*> sorted;
    for (const auto& [id, rec] : records_) {
      const v1::KvEntryHeader& h = *rec.header;
      if (!request.model_fingerprint().empty() && h.model_fingerprint() != request.model_fingerprint()) continue;
      if (!request.method_spec().empty() && h.method_spec() != request.method_spec()) continue;
      sorted.emplace(id, &rec);
    }
    for (const auto& [id, rec] : sorted) *response.add_entries() = Info(id, *rec);
    return response;
  }

  absl::Status Delete(const std::string& id) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = records_.find(id);
    if (it == records_.end()) return UnknownId(id);
    Record& rec = it->second;
    if (rec.pinned) return absl::FailedPreconditionError(absl::StrCat("KV entry '", id, "' is pinned; unpin it first"));
    if (Leased(rec)) {
      return absl::FailedPreconditionError(absl::StrCat("KV entry '", id, "' is leased by a reader"));
    }
    for (size_t t = 0; t < slots_.size(); ++t) {
      if (rec.residency & Bit(t)) {
        ForgetCopy(id, rec, t);
        DeleteFromTier(id, t);
      }
    }
    EraseRecord(id);
    return absl::OkStatus();
  }

  absl::Status Pin(const std::string& id) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = records_.find(id);
    if (it == records_.end()) return UnknownId(id);
    it->second.pinned = true;
    return absl::OkStatus();
  }

  absl::Status Unpin(const std::string& id) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = records_.find(id);
    if (it == records_.end()) return UnknownId(id);
    it->second.pinned = false;
    return absl::OkStatus();
  }

  absl::StatusOr<uint64_t> Lease(const std::string& id, int64_t ttl_ms) override {
    if (ttl_ms <= 0 || ttl_ms > kMaxLeaseMs) {
      return absl::InvalidArgumentError(
          absl::StrCat("lease ttl must be in (0, ", kMaxLeaseMs, "] ms (one week), got ", ttl_ms, " ms"));
    }
    std::lock_guard<std::mutex> lock(mu_);
    auto it = records_.find(id);
    if (it == records_.end()) return UnknownId(id);
    const uint64_t lease = ++next_lease_;
    it->second.leases[lease] = options_.clock_ms() + ttl_ms;
    lease_owner_[lease] = id;
    return lease;
  }

  absl::Status Release(uint64_t lease_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto owner = lease_owner_.find(lease_id);
    const absl::Status unknown = absl::NotFoundError(absl::StrCat("no live lease ", lease_id));
    if (owner == lease_owner_.end()) return unknown;
    auto it = records_.find(owner->second);
    lease_owner_.erase(owner);
    if (it == records_.end()) return unknown;
    auto l = it->second.leases.find(lease_id);
    if (l == it->second.leases.end()) return unknown;
    const bool live = l->second > options_.clock_ms();
    it->second.leases.erase(l);
    return live ? absl::OkStatus() : unknown;
  }

  std::vector<TierStats> Tiers() override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<TierStats> out;
    for (const Slot& s : slots_) {
      TierStats st;
      st.name = s.tier->name();
      st.capacity_bytes = s.unlimited ? 0 : s.capacity;
      st.used_bytes = s.used;
      st.entries = static_cast<int64_t>(s.lru.size());
      st.hits = s.hits;
      st.misses = s.misses;
      st.evictions = s.evictions;
      st.demotions = s.demotions;
      st.promotions = s.promotions;
      st.corruptions = s.corruptions;
      out.push_back(std::move(st));
    }
    return out;
  }

  absl::Status Verify(const std::string& id) override {
    uint32_t residency = 0;
    uint64_t version = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = records_.find(id);
      if (it == records_.end()) return UnknownId(id);
      residency = it->second.residency;
      version = it->second.version;
    }
    for (size_t t = 0; t < slots_.size(); ++t) {
      if (!(residency & Bit(t))) continue;
      auto got = slots_[t].tier->Get(id);
      absl::Status s = got.ok() ? VerifyEntry(**got) : got.status();
      if (s.ok() || absl::IsNotFound(s) || absl::IsAborted(s)) continue;
      if (!absl::IsDataLoss(s)) return s;
      std::lock_guard<std::mutex> lock(mu_);
      auto it = records_.find(id);
      if (it == records_.end() || it->second.version != version) return absl::OkStatus();  // replaced meanwhile
      QuarantineLocked(id, t, s);
      return absl::DataLossError(absl::StrCat("KV entry '", id, "' is corrupt in the ", slots_[t].tier->name(),
                                              " tier and was quarantined: ", s.message()));
    }
    return absl::OkStatus();
  }

  std::vector<QuarantinedEntry> Quarantined() override {
    std::lock_guard<std::mutex> lock(mu_);
    return quarantined_;
  }

 private:
  struct Slot {
    std::unique_ptr<Tier> tier;
    int64_t capacity = 0;
    bool unlimited = false;
    int64_t used = 0;
    int64_t hits = 0, misses = 0, evictions = 0, demotions = 0, promotions = 0, corruptions = 0;
    std::list<std::string> lru;  // most recently used first
    // False while a persistent tier awaits its first listing; written only by
    // Restore and then by the one RestoreLater thread.
    bool restored = true;
  };

  struct Record {
    std::shared_ptr<const v1::KvEntryHeader> header;
    int64_t bytes = 0;
    int64_t access_ms = 0;
    uint64_t version = 0;  // bumped by every Put of the id
    uint32_t residency = 0;  // bit t: tier t holds a copy
    std::array<std::list<std::string>::iterator, kMaxTiers> lru_pos{};
    bool pinned = false;
    std::map<uint64_t, int64_t> leases;  // lease id -> expiry (Unix ms)
  };

  static uint32_t Bit(size_t t) { return 1u << t; }

  static size_t FastestCopy(const Record& rec) { return static_cast<size_t>(__builtin_ctz(rec.residency)); }

  bool Fits(size_t t, int64_t bytes) const { return slots_[t].unlimited || bytes <= slots_[t].capacity; }

  bool AnyTierFits(int64_t bytes) const {
    for (size_t t = 0; t < slots_.size(); ++t) {
      if (Fits(t, bytes)) return true;
    }
    return false;
  }

  int FirstPersistentTier() const {
    for (size_t t = 0; t < slots_.size(); ++t) {
      if (slots_[t].tier->persistent()) return static_cast<int>(t);
    }
    return -1;
  }

  // Drops expired leases; true while a live one remains.
  bool Leased(Record& rec) {
    const int64_t now = options_.clock_ms();
    for (auto it = rec.leases.begin(); it != rec.leases.end();) {
      if (it->second <= now) {
        lease_owner_.erase(it->first);
        it = rec.leases.erase(it);
      } else {
        ++it;
      }
    }
    return !rec.leases.empty();
  }

  bool Evictable(Record& rec) { return !rec.pinned && !Leased(rec); }

  void AddCopy(const std::string& id, Record& rec, size_t t) {
    if (rec.residency & Bit(t)) ForgetCopy(id, rec, t);  // one LRU node per copy, always
    Slot& s = slots_[t];
    rec.residency |= Bit(t);
    s.used += rec.bytes;
    s.lru.push_front(id);
    rec.lru_pos[t] = s.lru.begin();
  }

  // Removes tier t's copy from the accounting (not from the tier).
  void ForgetCopy(const std::string& id, Record& rec, size_t t) {
    Slot& s = slots_[t];
    rec.residency &= ~Bit(t);
    s.used -= rec.bytes;
    s.lru.erase(rec.lru_pos[t]);
  }

  void DeleteFromTier(const std::string& id, size_t t) {
    absl::Status s = slots_[t].tier->Delete(id);
    if (!s.ok()) spdlog::warn("kvstore: deleting '{}' from the {} tier failed: {}", id, slots_[t].tier->name(),
                              std::string(s.message()));
  }

  void Touch(const std::string& id, Record& rec, size_t t) {
    rec.access_ms = options_.clock_ms();
    Slot& s = slots_[t];
    s.lru.splice(s.lru.begin(), s.lru, rec.lru_pos[t]);
  }

  void EraseRecord(const std::string& id) {
    auto it = records_.find(id);
    if (it == records_.end()) return;
    for (const auto& [lease, expiry] : it->second.leases) lease_owner_.erase(lease);
    index_.Erase(id);
    records_.erase(it);
  }

  void IndexRecord(const std::string& id, const Record& rec) {
    const v1::KvEntryHeader& h = *rec.header;
    if (h.tokens_size() < PrefixIndex::kBlockTokens || !IsFullMethod(h.method_spec())) return;
    if (ContentKey(h) != id) return;  // named entries (sessions) are not prefix-matched
    index_.Insert(id, h.model_fingerprint(), h.method_spec(), TokensOf(h));
  }

  // Marks `id` busy while its Record is referenced up the call stack (being
  // placed, promoted or demoted). Nested evictions (a demotion making room in
  // the next tier, which may demote again) never pick a busy entry, so they
  // cannot erase a record still in use.
  class BusyGuard {
   public:
    BusyGuard(std::multiset<std::string>* busy, const std::string& id) : busy_(busy), it_(busy->insert(id)) {}
    ~BusyGuard() { busy_->erase(it_); }
    BusyGuard(const BusyGuard&) = delete;
    BusyGuard& operator=(const BusyGuard&) = delete;

   private:
    std::multiset<std::string>* busy_;
    std::multiset<std::string>::iterator it_;
  };

  // Evicts least recently used, evictable, non-busy entries of tier t until
  // `bytes` more fit. RESOURCE_EXHAUSTED when they cannot.
  absl::Status MakeRoom(size_t t, int64_t bytes) {
    Slot& s = slots_[t];
    if (s.unlimited) return absl::OkStatus();
    if (bytes > s.capacity) return absl::ResourceExhaustedError("larger than the tier");
    while (s.used + bytes > s.capacity) {
      std::string victim;
      for (auto it = s.lru.rbegin(); it != s.lru.rend(); ++it) {
        if (busy_.count(*it) == 0 && Evictable(records_.at(*it))) {
          victim = *it;
          break;
        }
      }
      if (victim.empty()) return absl::ResourceExhaustedError("every entry of the tier is pinned or leased");
      Evict(victim, t);
    }
    return absl::OkStatus();
  }

  // Removes tier t's copy of `id`, demoting the entry to a slower tier when
  // that was its only copy (or dropping it when no slower tier takes it).
  void Evict(const std::string& id, size_t t) {
    BusyGuard busy(&busy_, id);
    Record& rec = records_.at(id);
    Slot& s = slots_[t];
    ++s.evictions;
    if (rec.residency & ~Bit(t)) {  // another tier still has it
      ForgetCopy(id, rec, t);
      DeleteFromTier(id, t);
      return;
    }
    int placed = -1;
    if (t + 1 < slots_.size()) {
      auto data = s.tier->Get(id);
      if (data.ok()) {
        placed = PlaceIn(id, rec, *data, t + 1);
      } else {
        spdlog::warn("kvstore: cannot read '{}' from the {} tier to demote it: {}", id, s.tier->name(),
                     std::string(data.status().message()));
      }
    }
    ForgetCopy(id, rec, t);
    DeleteFromTier(id, t);
    if (placed >= 0) {
      ++s.demotions;
    } else {
      EraseRecord(id);
    }
  }

  // Stores `entry` in the fastest tier at or after `from` it fits in, making
  // room there. Returns that tier, or -1.
  int PlaceIn(const std::string& id, Record& rec, const std::shared_ptr<const KvEntry>& entry, size_t from) {
    BusyGuard busy(&busy_, id);
    for (size_t t = from; t < slots_.size(); ++t) {
      if (!Fits(t, rec.bytes) || !MakeRoom(t, rec.bytes).ok()) continue;
      absl::Status s = slots_[t].tier->Put(id, entry);
      if (!s.ok()) {
        spdlog::warn("kvstore: storing '{}' in the {} tier failed: {}", id, slots_[t].tier->name(),
                     std::string(s.message()));
        continue;
      }
      AddCopy(id, rec, t);
      return static_cast<int>(t);
    }
    return -1;
  }

  // After a read from slower tier t: copies the entry to the fastest tier it
  // fits in; a volatile tier t gives up its copy.
  void Promote(const std::string& id, Record& rec, size_t t, const std::shared_ptr<const KvEntry>& entry) {
    // A concurrent Get may have promoted it already while this one read.
    if (rec.residency & (Bit(t) - 1)) return;
    BusyGuard busy(&busy_, id);
    for (size_t u = 0; u < t; ++u) {
      if (!Fits(u, rec.bytes) || !MakeRoom(u, rec.bytes).ok()) continue;
      if (!slots_[u].tier->Put(id, entry).ok()) continue;
      AddCopy(id, rec, u);
      ++slots_[u].promotions;
      if (!slots_[t].tier->persistent()) {
        ForgetCopy(id, rec, t);
        DeleteFromTier(id, t);
      }
      return;
    }
  }

  void QuarantineLocked(const std::string& id, size_t t, const absl::Status& why) {
    Record& rec = records_.at(id);
    ++slots_[t].corruptions;
    spdlog::error("kvstore: quarantining '{}' ({} tier): {}", id, slots_[t].tier->name(), std::string(why.message()));
    absl::Status q = slots_[t].tier->Quarantine(id);
    if (!q.ok()) spdlog::warn("kvstore: quarantining '{}' failed: {}", id, std::string(q.message()));
    ForgetCopy(id, rec, t);
    for (size_t u = 0; u < slots_.size(); ++u) {
      if (rec.residency & Bit(u)) {
        ForgetCopy(id, rec, u);
        DeleteFromTier(id, u);
      }
    }
    EraseRecord(id);
    quarantined_.push_back(QuarantinedEntry{id, slots_[t].tier->name(), std::string(why.message()),
                                            options_.clock_ms()});
  }

  v1::EntryInfo Info(const std::string& id, const Record& rec) const {
    const v1::KvEntryHeader& h = *rec.header;
    v1::EntryInfo info;
    *info.mutable_handle() = HandleOf(id, h);
    info.set_codec(h.codec());
    info.set_bytes(rec.bytes);
    info.set_created_unix_ms(h.created_unix_ms());
    info.set_last_access_unix_ms(rec.access_ms);
    info.set_tier(slots_[FastestCopy(rec)].tier->name());
    info.set_session_id(h.session_id());
    info.set_session_turn(h.session_turn());
    info.set_pinned(rec.pinned);
    for (size_t t = 0; t < slots_.size(); ++t) {
      if (rec.residency & Bit(t)) info.add_tiers(slots_[t].tier->name());
    }
    return info;
  }

  TieredStoreOptions options_;
  std::vector<Slot> slots_;  // fastest first; fixed after construction

  std::mutex mu_;
  std::multiset<std::string> busy_;  // see BusyGuard
  std::unordered_map<std::string, Record> records_;  // node-based: references stay valid
  std::unordered_map<uint64_t, std::string> lease_owner_;
  PrefixIndex index_;
  std::vector<QuarantinedEntry> quarantined_;
  uint64_t next_version_ = 0;
  uint64_t next_lease_ = 0;

  // The background indexing of tiers unreachable at start (RestoreLater).
  std::mutex restore_mu_;
  std::condition_variable restore_cv_;
  bool stopping_ = false;  // guarded by restore_mu_
  std::thread restorer_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<TieredKvStore>> NewTieredKvStore(const TieredStoreOptions& options) {
  if (options.host_capacity_bytes < 0 || options.device_capacity_bytes < 0 || options.redis.capacity_bytes < 0 ||
      options.disk.capacity_bytes < 0) {
    return absl::InvalidArgumentError("tier capacities must not be negative");
  }
  auto store = std::make_unique<TieredKvStoreImpl>(options);
  if (options.device_capacity_bytes > 0) {
#ifdef KVLAB_HAVE_CUDA
    DeviceTierOptions dopts;
    dopts.device = options.device;
    auto device = DeviceTier::Create(dopts);
    if (device.ok()) {
      store->AddTier(std::move(*device), options.device_capacity_bytes);
    } else {
      spdlog::warn("kvstore: no device tier: {}", std::string(device.status().message()));
    }
#else
    spdlog::warn("kvstore: no device tier: this build has no CUDA");
#endif
  }
  HostTierOptions hopts;
  hopts.pin_memory = options.pin_host_memory;
  store->AddTier(std::make_unique<HostTier>(hopts), options.host_capacity_bytes);
  if (!options.redis.address.empty()) {
    RedisTierOptions ropts;
    ropts.connection.address = options.redis.address;
    ropts.connection.port = options.redis.port;
    ropts.connection.pool_size = options.redis.pool_size;
    ropts.connection.connect_timeout_ms = options.redis.connect_timeout_ms;
    ropts.connection.command_timeout_ms = options.redis.command_timeout_ms;
    ropts.ttl_s = options.redis.ttl_s;
    ropts.chunk_bytes = options.redis.chunk_bytes;
    ropts.key_prefix = options.redis.key_prefix;
    KVLAB_ASSIGN_OR_RETURN(std::unique_ptr<RedisTier> redis, RedisTier::Create(ropts));
    store->AddTier(std::move(redis), options.redis.capacity_bytes);
  }
  if (!options.disk.dir.empty()) {
    DiskTierOptions dopts;
    dopts.dir = options.disk.dir;
    dopts.fsync = options.disk.fsync;
    KVLAB_ASSIGN_OR_RETURN(std::unique_ptr<DiskTier> disk, DiskTier::Create(dopts));
    store->AddTier(std::move(disk), options.disk.capacity_bytes);
  }
  KVLAB_RETURN_IF_ERROR(store->Restore());
  return std::unique_ptr<TieredKvStore>(std::move(store));
}

}  // namespace kvlab
