// KvStoreGrpcService's admin calls (Pin .. Verify) over a TieredKvStore.
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "services/common/server_call.h"
#include "services/kvstore/grpc_server.h"

namespace kvlab {
namespace {

// OK when `id` is set; INVALID_ARGUMENT naming `call` when it is empty.
absl::Status CheckId(const std::string& id, const char* call) {
  if (id.empty()) return absl::InvalidArgumentError(absl::StrCat(call, ": the entry id is empty"));
  return absl::OkStatus();
}

void ToProto(const TierStats& stats, v1::TierInfo* info) {
  info->set_name(stats.name);
  info->set_capacity_bytes(stats.capacity_bytes);
  info->set_used_bytes(stats.used_bytes);
  info->set_entries(stats.entries);
  info->set_hits(stats.hits);
  info->set_misses(stats.misses);
  info->set_evictions(stats.evictions);
  info->set_demotions(stats.demotions);
  info->set_promotions(stats.promotions);
  info->set_corruptions(stats.corruptions);
}

}  // namespace

absl::StatusOr<TieredKvStore*> KvStoreGrpcService::Admin(const char* call) const {
  if (admin_ == nullptr) {
    return absl::UnimplementedError(absl::StrCat(call, ": this kvstore serves a store without tiers (no admin calls)"));
  }
  return admin_;
}

grpc::Status KvStoreGrpcService::Pin(grpc::ServerContext* context, const v1::PinRequest* request,
                                     v1::PinResponse* /*response*/) {
  ServerCall call(context, auth_, "kvstore.Pin");
  return call.Run([&]() -> absl::Status {
    KVLAB_ASSIGN_OR_RETURN(TieredKvStore * store, Admin("pin"));
    KVLAB_RETURN_IF_ERROR(CheckId(request->id(), "pin"));
    return store->Pin(request->id());
  });
}

grpc::Status KvStoreGrpcService::Unpin(grpc::ServerContext* context, const v1::UnpinRequest* request,
                                       v1::UnpinResponse* /*response*/) {
  ServerCall call(context, auth_, "kvstore.Unpin");
  return call.Run([&]() -> absl::Status {
    KVLAB_ASSIGN_OR_RETURN(TieredKvStore * store, Admin("unpin"));
    KVLAB_RETURN_IF_ERROR(CheckId(request->id(), "unpin"));
    return store->Unpin(request->id());
  });
}

grpc::Status KvStoreGrpcService::Lease(grpc::ServerContext* context, const v1::LeaseRequest* request,
                                       v1::LeaseResponse* response) {
  ServerCall call(context, auth_, "kvstore.Lease");
  return call.Run([&]() -> absl::Status {
    KVLAB_ASSIGN_OR_RETURN(TieredKvStore * store, Admin("lease"));
    KVLAB_RETURN_IF_ERROR(CheckId(request->id(), "lease"));
    KVLAB_ASSIGN_OR_RETURN(uint64_t lease, store->Lease(request->id(), request->ttl_ms()));
    response->set_lease_id(lease);
    return absl::OkStatus();
  });
}

grpc::Status KvStoreGrpcService::Release(grpc::ServerContext* context, const v1::ReleaseRequest* request,
                                         v1::ReleaseResponse* /*response*/) {
  ServerCall call(context, auth_, "kvstore.Release");
  return call.Run([&]() -> absl::Status {
    KVLAB_ASSIGN_OR_RETURN(TieredKvStore * store, Admin("release"));
    return store->Release(request->lease_id());
  });
}

grpc::Status KvStoreGrpcService::Tiers(grpc::ServerContext* context, const v1::TiersRequest* /*request*/,
                                       v1::TiersResponse* response) {
  ServerCall call(context, auth_, "kvstore.Tiers");
  return call.Run([&]() -> absl::Status {
    KVLAB_ASSIGN_OR_RETURN(TieredKvStore * store, Admin("tiers"));
    for (const TierStats& stats : store->Tiers()) ToProto(stats, response->add_tiers());
    for (const QuarantinedEntry& q : store->Quarantined()) {
      v1::QuarantinedEntryInfo* info = response->add_quarantined();
      info->set_id(q.id);
      info->set_tier(q.tier);
      info->set_reason(q.reason);
      info->set_unix_ms(q.unix_ms);
    }
    return absl::OkStatus();
  });
}

grpc::Status KvStoreGrpcService::Verify(grpc::ServerContext* context, const v1::VerifyRequest* request,
                                        v1::VerifyResponse* /*response*/) {
  ServerCall call(context, auth_, "kvstore.Verify");
  return call.Run([&]() -> absl::Status {
    KVLAB_ASSIGN_OR_RETURN(TieredKvStore * store, Admin("verify"));
    KVLAB_RETURN_IF_ERROR(CheckId(request->id(), "verify"));
    return store->Verify(request->id());
  });
}

}  // namespace kvlab
