#include "services/decode/grpc_server.h"

#include "common/status_macros.h"
#include "services/common/server_call.h"

namespace kvlab {

DecodeGrpcService::DecodeGrpcService(DecodeWorker* worker, Authenticator auth)
    : worker_(*worker), auth_(std::move(auth)) {}

grpc::Status DecodeGrpcService::Answer(grpc::ServerContext* context, const v1::AnswerRequest* request,
                                       v1::AnswerResponse* response) {
  ServerCall call(context, auth_, "decode.Answer", request->request_id());
  return call.Run([&]() -> absl::Status {
    v1::AnswerRequest with_id = *request;
    with_id.set_request_id(call.request_id());
    KVLAB_ASSIGN_OR_RETURN(*response, worker_.Answer(with_id));
    return absl::OkStatus();
  });
}

grpc::Status DecodeGrpcService::Turn(grpc::ServerContext* context, const v1::TurnRequest* request,
                                     v1::TurnResponse* response) {
  ServerCall call(context, auth_, "decode.Turn", request->request_id());
  return call.Run([&]() -> absl::Status {
    v1::TurnRequest with_id = *request;
    with_id.set_request_id(call.request_id());
    KVLAB_ASSIGN_OR_RETURN(*response, worker_.Turn(with_id));
    return absl::OkStatus();
  });
}

grpc::Status DecodeGrpcService::CloseSession(grpc::ServerContext* context, const v1::CloseSessionRequest* request,
                                             v1::CloseSessionResponse* response) {
  ServerCall call(context, auth_, "decode.CloseSession");
  return call.Run([&]() -> absl::Status { return worker_.CloseSession(request->session_id()); });
}

}  // namespace kvlab
