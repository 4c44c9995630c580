#include <chrono>
#include <list>
#include <map>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "kvcache/entry_key.h"
#include "services/kvstore/kv_store.h"

namespace kvlab {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Names: letters, digits, '-', '_', '.'; at most 200 characters.
bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > 200) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

v1::CacheHandle HandleOf(const std::string& id, const KvEntry& e) {
  v1::CacheHandle h;
  h.set_id(id);
  h.set_model_fingerprint(e.header.model_fingerprint());
  h.set_method_spec(e.header.method_spec());
  h.set_n_tokens(e.header.tokens_size());
  return h;
}

class LocalKvStore : public KvStore {
 public:
  explicit LocalKvStore(const LocalKvStoreOptions& options) : options_(options) {}

  absl::StatusOr<v1::PutResponse> Put(KvEntry entry, const v1::PutOptions& options) override {
    KVLAB_RETURN_IF_ERROR(VerifyEntry(entry));
    std::string id;
    if (!options.name().empty()) {
      if (!ValidName(options.name())) {
        return absl::InvalidArgumentError(absl::StrCat("entry name '", options.name(),
                                                       "' must be 1-200 letters, digits, '-', '_' or '.'"));
      }
      id = options.name();
    } else {
      id = EntryKey(entry.header.model_fingerprint(), entry.header.method_spec(),
                    std::vector<int32_t>(entry.header.tokens().begin(), entry.header.tokens().end()));
    }
    const int64_t bytes = entry.payload_bytes();
    if (bytes > options_.capacity_bytes) {
      return absl::ResourceExhaustedError(absl::StrCat("entry of ", bytes, " bytes exceeds the store capacity of ",
                                                       options_.capacity_bytes, " bytes"));
    }
    auto shared = std::make_shared<const KvEntry>(std::move(entry));
    v1::PutResponse response;
    *response.mutable_handle() = HandleOf(id, *shared);
    response.set_bytes(bytes);
    std::lock_guard<std::mutex> lock(mu_);
    Erase(id);
    lru_.push_front(id);
    items_[id] = Item{shared, NowMs(), NowMs(), lru_.begin()};
    used_ += bytes;
    while (used_ > options_.capacity_bytes && lru_.size() > 1) Erase(lru_.back());
    return response;
  }

  absl::StatusOr<std::shared_ptr<const KvEntry>> Get(const std::string& id) override {
    std::shared_ptr<const KvEntry> entry;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = items_.find(id);
      if (it == items_.end()) return absl::NotFoundError(absl::StrCat("no KV entry with id '", id, "'"));
      Touch(it->second, id);
      entry = it->second.entry;
    }
    // Verify outside the lock: checksumming is the expensive part.
    absl::Status s = VerifyEntry(*entry);
    if (!s.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      Erase(id);  // never serve it again
      return absl::DataLossError(absl::StrCat("KV entry '", id, "' is corrupt and was removed: ", s.message()));
    }
    return entry;
  }

  absl::StatusOr<v1::LookupResponse> Lookup(const v1::LookupRequest& request) override {
    const std::string id = EntryKey(request.model_fingerprint(), request.method_spec(),
                                    std::vector<int32_t>(request.tokens().ids().begin(), request.tokens().ids().end()));
    v1::LookupResponse response;
    std::lock_guard<std::mutex> lock(mu_);
    auto it = items_.find(id);
    if (it != items_.end()) {
      response.set_found(true);
      *response.mutable_handle() = HandleOf(id, *it->second.entry);
      response.set_matched_tokens(request.tokens().ids_size());
    }
    return response;
  }

  absl::StatusOr<v1::EntryInfo> Stat(const std::string& id) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = items_.find(id);
    if (it == items_.end()) return absl::NotFoundError(absl::StrCat("no KV entry with id '", id, "'"));
    return Info(id, it->second);
  }

  absl::StatusOr<v1::ListResponse> List(const v1::ListRequest& request) override {
    v1::ListResponse response;
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, item] : items_) {
      const v1::KvEntryHeader& h = item.entry->header;
      if (!request.model_fingerprint().empty() && h.model_fingerprint() != request.model_fingerprint()) continue;
      if (!request.method_spec().empty() && h.method_spec() != request.method_spec()) continue;
      *response.add_entries() = Info(id, item);
    }
    return response;
  }

  absl::Status Delete(const std::string& id) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!items_.count(id)) return absl::NotFoundError(absl::StrCat("no KV entry with id '", id, "'"));
    Erase(id);
    return absl::OkStatus();
  }

 private:
  struct Item {
    std::shared_ptr<const KvEntry> entry;
    int64_t created_ms;
    int64_t access_ms;
    std::list<std::string>::iterator lru;
  };

  void Touch(Item& item, const std::string& id) {
    item.access_ms = NowMs();
    lru_.erase(item.lru);
    lru_.push_front(id);
    item.lru = lru_.begin();
  }

  void Erase(const std::string& id) {
    auto it = items_.find(id);
    if (it == items_.end()) return;
    used_ -= it->second.entry->payload_bytes();
    lru_.erase(it->second.lru);
    items_.erase(it);
  }

  v1::EntryInfo Info(const std::string& id, const Item& item) const {
    v1::EntryInfo info;
    *info.mutable_handle() = HandleOf(id, *item.entry);
    info.set_codec(item.entry->header.codec());
    info.set_bytes(item.entry->payload_bytes());
    info.set_created_unix_ms(item.entry->header.created_unix_ms());
    info.set_last_access_unix_ms(item.access_ms);
    info.set_tier("host");
    info.set_session_id(item.entry->header.session_id());
    info.set_session_turn(item.entry->header.session_turn());
    return info;
  }

  const LocalKvStoreOptions options_;
  std::mutex mu_;
  std::map<std::string, Item> items_;
  std::list<std::string> lru_;  // most recent first
  int64_t used_ = 0;
};

}  // namespace

std::unique_ptr<KvStore> NewLocalKvStore(const LocalKvStoreOptions& options) {
  return std::make_unique<LocalKvStore>(options);
}

}  // namespace kvlab
