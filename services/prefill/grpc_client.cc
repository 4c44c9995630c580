#include "services/prefill/grpc_client.h"

#include "common/status_macros.h"
#include "kvlab/v1/prefill.grpc.pb.h"

namespace kvlab {
namespace {

class PrefillClient : public Prefiller {
 public:
  explicit PrefillClient(std::unique_ptr<ClientChannel> channel)
      : channel_(std::move(channel)), stub_(v1::PrefillService::NewStub(channel_->channel())) {}

  absl::StatusOr<v1::PrefillResponse> Prefill(const v1::PrefillRequest& request) override {
    grpc::ClientContext context;
    KVLAB_RETURN_IF_ERROR(channel_->Prepare(&context, request.request_id()));
    v1::PrefillResponse response;
    grpc::Status status = stub_->Prefill(&context, request, &response);
    if (!status.ok()) return channel_->Error(status);
    return response;
  }

 private:
  std::unique_ptr<ClientChannel> channel_;
  std::unique_ptr<v1::PrefillService::Stub> stub_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Prefiller>> NewPrefillClient(const ClientOptions& options) {
  KVLAB_ASSIGN_OR_RETURN(std::unique_ptr<ClientChannel> channel, ClientChannel::Create(options));
  return std::unique_ptr<Prefiller>(new PrefillClient(std::move(channel)));
}

}  // namespace kvlab
