#include "services/prefill/grpc_server.h"

#include "common/status_macros.h"
#include "services/common/server_call.h"

namespace kvlab {

PrefillGrpcService::PrefillGrpcService(Prefiller* prefiller, Authenticator auth)
    : prefiller_(*prefiller), auth_(std::move(auth)) {}

grpc::Status PrefillGrpcService::Prefill(grpc::ServerContext* context, const v1::PrefillRequest* request,
                                         v1::PrefillResponse* response) {
  ServerCall call(context, auth_, "prefill.Prefill", request->request_id());
  return call.Run([&]() -> absl::Status {
    v1::PrefillRequest with_id = *request;
    with_id.set_request_id(call.request_id());
    KVLAB_ASSIGN_OR_RETURN(*response, prefiller_.Prefill(with_id));
    return absl::OkStatus();
  });
}

}  // namespace kvlab
