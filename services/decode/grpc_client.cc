#include "services/decode/grpc_client.h"

#include "common/status_macros.h"
#include "kvlab/v1/decode.grpc.pb.h"

namespace kvlab {
namespace {

class DecodeClient : public DecodeWorker {
 public:
  explicit DecodeClient(std::unique_ptr<ClientChannel> channel)
      : channel_(std::move(channel)), stub_(v1::DecodeService::NewStub(channel_->channel())) {}

  absl::StatusOr<v1::AnswerResponse> Answer(const v1::AnswerRequest& request) override {
    grpc::ClientContext context;
    KVLAB_RETURN_IF_ERROR(channel_->Prepare(&context, request.request_id()));
    v1::AnswerResponse response;
    grpc::Status status = stub_->Answer(&context, request, &response);
    if (!status.ok()) return channel_->Error(status);
    return response;
  }

  absl::StatusOr<v1::TurnResponse> Turn(const v1::TurnRequest& request) override {
    grpc::ClientContext context;
    KVLAB_RETURN_IF_ERROR(channel_->Prepare(&context, request.request_id()));
    v1::TurnResponse response;
    grpc::Status status = stub_->Turn(&context, request, &response);
    if (!status.ok()) return channel_->Error(status);
    return response;
  }

  absl::Status CloseSession(const std::string& session_id) override {
    grpc::ClientContext context;
    KVLAB_RETURN_IF_ERROR(channel_->Prepare(&context));
    v1::CloseSessionRequest request;
    request.set_session_id(session_id);
    v1::CloseSessionResponse response;
    grpc::Status status = stub_->CloseSession(&context, request, &response);
    if (!status.ok()) return channel_->Error(status);
    return absl::OkStatus();
  }

 private:
  std::unique_ptr<ClientChannel> channel_;
  std::unique_ptr<v1::DecodeService::Stub> stub_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<DecodeWorker>> NewDecodeClient(const ClientOptions& options) {
  KVLAB_ASSIGN_OR_RETURN(std::unique_ptr<ClientChannel> channel, ClientChannel::Create(options));
  return std::unique_ptr<DecodeWorker>(new DecodeClient(std::move(channel)));
}

}  // namespace kvlab
