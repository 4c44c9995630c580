#include "services/kvstore/grpc_server.h"

#include <algorithm>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "services/common/entry_write_reactor.h"
#include "services/common/server_call.h"

namespace kvlab {

KvStoreGrpcService::KvStoreGrpcService(KvStore* store, Authenticator auth, const KvStoreServiceOptions& options)
    : store_(*store), auth_(std::move(auth)), options_(options) {}

KvStoreGrpcService::KvStoreGrpcService(TieredKvStore* store, Authenticator auth,
                                       const KvStoreServiceOptions& options)
    : store_(*store), admin_(store), auth_(std::move(auth)), options_(options) {}

grpc::Status KvStoreGrpcService::Put(grpc::ServerContext* context, grpc::ServerReader<v1::PutRequest>* reader,
                                     v1::PutResponse* response) {
  ServerCall call(context, auth_, "kvstore.Put");
  return call.Run([&]() -> absl::Status {
    v1::PutOptions put_options;
    EntryAssembler assembler;
    v1::PutRequest request;
    while (reader->Read(&request)) {
      if (request.has_options()) {
        if (assembler.started()) return absl::InvalidArgumentError("put stream: options must come before the entry");
        put_options = request.options();
        continue;
      }
      if (!request.has_chunk()) return absl::InvalidArgumentError("put stream: empty message");
      const bool had_header = assembler.started();
      KVLAB_RETURN_IF_ERROR(assembler.Add(request.chunk()));
      if (!had_header) {
        int64_t declared = 0;
        for (int64_t b : request.chunk().header().layer_bytes()) declared += std::max<int64_t>(b, 0);
        if (declared > options_.max_entry_bytes) {
          return absl::ResourceExhaustedError(absl::StrCat("entry of ", declared,
                                                           " bytes exceeds this store's limit of ",
                                                           options_.max_entry_bytes, " bytes (--capacity_mb)"));
        }
      }
    }
    KVLAB_ASSIGN_OR_RETURN(KvEntry entry, assembler.Finish());
    KVLAB_ASSIGN_OR_RETURN(*response, store_.Put(std::move(entry), put_options));
    return absl::OkStatus();
  });
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* KvStoreGrpcService::Get(grpc::CallbackServerContext* context,
                                                                     const grpc::ByteBuffer* request) {
  v1::GetRequest get;
  grpc::ByteBuffer bytes(*request);  // Deserialize consumes its buffer
  const bool parsed = grpc::SerializationTraits<v1::GetRequest>::Deserialize(&bytes, &get).ok();
  auto call = std::make_unique<ServerCall>(context, auth_, "kvstore.Get", get.request_id());
  absl::StatusOr<std::shared_ptr<const KvEntry>> entry = [&]() -> absl::StatusOr<std::shared_ptr<const KvEntry>> {
    KVLAB_RETURN_IF_ERROR(call->Authenticate());
    if (!parsed) return absl::InvalidArgumentError("get: the request is not a kvlab.v1.GetRequest");
    if (get.id().empty()) return absl::InvalidArgumentError("get: the entry id is empty");
    return store_.Get(get.id());
  }();
  return NewEntryWriteReactor(std::move(call), std::move(entry), options_.max_chunk_bytes);
}

grpc::Status KvStoreGrpcService::Lookup(grpc::ServerContext* context, const v1::LookupRequest* request,
                                        v1::LookupResponse* response) {
  ServerCall call(context, auth_, "kvstore.Lookup", request->request_id());
  return call.Run([&]() -> absl::Status {
    KVLAB_ASSIGN_OR_RETURN(*response, store_.Lookup(*request));
    return absl::OkStatus();
  });
}

grpc::Status KvStoreGrpcService::Stat(grpc::ServerContext* context, const v1::StatRequest* request,
                                      v1::EntryInfo* response) {
  ServerCall call(context, auth_, "kvstore.Stat");
  return call.Run([&]() -> absl::Status {
    KVLAB_ASSIGN_OR_RETURN(*response, store_.Stat(request->id()));
    return absl::OkStatus();
  });
}

grpc::Status KvStoreGrpcService::List(grpc::ServerContext* context, const v1::ListRequest* request,
                                      v1::ListResponse* response) {
  ServerCall call(context, auth_, "kvstore.List");
  return call.Run([&]() -> absl::Status {
    KVLAB_ASSIGN_OR_RETURN(*response, store_.List(*request));
    return absl::OkStatus();
  });
}

grpc::Status KvStoreGrpcService::Delete(grpc::ServerContext* context, const v1::DeleteRequest* request,
                                        v1::DeleteResponse* response) {
  ServerCall call(context, auth_, "kvstore.Delete");
  return call.Run([&]() -> absl::Status { return store_.Delete(request->id()); });
}

}  // namespace kvlab
