#include "services/kvstore/grpc_server.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
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

grpc::Status KvStoreGrpcService::Get(grpc::ServerContext* context, const v1::GetRequest* request,
                                     grpc::ServerWriter<v1::KvChunk>* writer) {
  ServerCall call(context, auth_, "kvstore.Get", request->request_id());
  return call.Run([&]() -> absl::Status {
    if (request->id().empty()) return absl::InvalidArgumentError("get: the entry id is empty");
    KVLAB_ASSIGN_OR_RETURN(std::shared_ptr<const KvEntry> entry, store_.Get(request->id()));
    const bool sent = ForEachChunk(
        *entry, [&](const v1::KvChunk& chunk) { return writer->Write(chunk); }, options_.max_chunk_bytes);
    if (!sent) return absl::CancelledError("get: the client went away mid-stream");
    return absl::OkStatus();
  });
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
