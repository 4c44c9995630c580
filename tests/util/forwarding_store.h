// A KvStore that forwards every call to another store: test doubles of a
// broken or hostile kvstore peer derive from it and override what they
// change (e.g. Get).
#ifndef KVLAB_TESTS_UTIL_FORWARDING_STORE_H_
#define KVLAB_TESTS_UTIL_FORWARDING_STORE_H_

#include <memory>
#include <string>

#include "services/kvstore/kv_store.h"

namespace kvlab::testing {

class ForwardingStore : public KvStore {
 public:
  explicit ForwardingStore(KvStore& inner) : inner_(inner) {}
  absl::StatusOr<v1::PutResponse> Put(KvEntry entry, const v1::PutOptions& options) override {
    return inner_.Put(std::move(entry), options);
  }
  absl::StatusOr<std::shared_ptr<const KvEntry>> Get(const std::string& id) override { return inner_.Get(id); }
  absl::StatusOr<v1::LookupResponse> Lookup(const v1::LookupRequest& r) override { return inner_.Lookup(r); }
  absl::StatusOr<v1::EntryInfo> Stat(const std::string& id) override { return inner_.Stat(id); }
  absl::StatusOr<v1::ListResponse> List(const v1::ListRequest& r) override { return inner_.List(r); }
  absl::Status Delete(const std::string& id) override { return inner_.Delete(id); }

 protected:
  KvStore& inner_;
};

}  // namespace kvlab::testing

#endif  // KVLAB_TESTS_UTIL_FORWARDING_STORE_H_
