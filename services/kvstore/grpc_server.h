// The kvstore's gRPC service over a KvStore (usually the local store).
#ifndef KVLAB_SERVICES_KVSTORE_GRPC_SERVER_H_
#define KVLAB_SERVICES_KVSTORE_GRPC_SERVER_H_

#include <cstdint>
#include <limits>

#include "kvcache/entry_stream.h"
#include "kvlab/v1/kvstore.grpc.pb.h"
#include "services/common/auth.h"
#include "services/kvstore/kv_store.h"
#include "services/kvstore/tiered_store.h"

namespace kvlab {

struct KvStoreServiceOptions {
  // Entries whose layers add up to more are refused with RESOURCE_EXHAUSTED
  // as soon as their header arrives (before the payload is received).
  int64_t max_entry_bytes = std::numeric_limits<int64_t>::max();
  // Layer bytes per chunk of the streams Get sends (at most 4 MiB).
  int64_t max_chunk_bytes = kMaxChunkBytes;
};

// Implements kvlab.v1.KvStoreService; see kvstore.proto for each call's
// semantics and errors. Every call is authenticated first. Thread-safe.
// The data calls (Put .. Delete) are in grpc_server.cc, the admin calls
// (Pin .. Verify) in grpc_admin_server.cc. Get is a raw callback method: it
// sends stored layers by reference instead of copying them into messages.
class KvStoreGrpcService final : public v1::KvStoreService::WithRawCallbackMethod_Get<v1::KvStoreService::Service> {
 public:
  // `store` is borrowed and must outlive the service. The admin calls answer
  // UNIMPLEMENTED (the store has no tiers to administer).
  KvStoreGrpcService(KvStore* store, Authenticator auth, const KvStoreServiceOptions& options = {});
  // `store` is borrowed and must outlive the service; serves the admin calls
  // too.
  KvStoreGrpcService(TieredKvStore* store, Authenticator auth, const KvStoreServiceOptions& options = {});

  grpc::Status Put(grpc::ServerContext* context, grpc::ServerReader<v1::PutRequest>* reader,
                   v1::PutResponse* response) override;
  // `request` is a serialized v1::GetRequest; the stream carries
  // v1::KvChunk messages.
  grpc::ServerWriteReactor<grpc::ByteBuffer>* Get(grpc::CallbackServerContext* context,
                                                  const grpc::ByteBuffer* request) override;
  grpc::Status Lookup(grpc::ServerContext* context, const v1::LookupRequest* request,
                      v1::LookupResponse* response) override;
  grpc::Status Stat(grpc::ServerContext* context, const v1::StatRequest* request, v1::EntryInfo* response) override;
  grpc::Status List(grpc::ServerContext* context, const v1::ListRequest* request,
                    v1::ListResponse* response) override;
  grpc::Status Delete(grpc::ServerContext* context, const v1::DeleteRequest* request,
                      v1::DeleteResponse* response) override;

  grpc::Status Pin(grpc::ServerContext* context, const v1::PinRequest* request, v1::PinResponse* response) override;
  grpc::Status Unpin(grpc::ServerContext* context, const v1::UnpinRequest* request,
                     v1::UnpinResponse* response) override;
  grpc::Status Lease(grpc::ServerContext* context, const v1::LeaseRequest* request,
                     v1::LeaseResponse* response) override;
  grpc::Status Release(grpc::ServerContext* context, const v1::ReleaseRequest* request,
                       v1::ReleaseResponse* response) override;
  grpc::Status Tiers(grpc::ServerContext* context, const v1::TiersRequest* request,
                     v1::TiersResponse* response) override;
  grpc::Status Verify(grpc::ServerContext* context, const v1::VerifyRequest* request,
                      v1::VerifyResponse* response) override;

 private:
  // The tiered store, or UNIMPLEMENTED naming `call` when there is none.
  absl::StatusOr<TieredKvStore*> Admin(const char* call) const;

  KvStore& store_;
  TieredKvStore* const admin_ = nullptr;  // null: no admin calls
  const Authenticator auth_;
  const KvStoreServiceOptions options_;
};

}  // namespace kvlab

#endif  // KVLAB_SERVICES_KVSTORE_GRPC_SERVER_H_
