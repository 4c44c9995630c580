#include "services/evaluator/grpc_client.h"

#include "common/status_macros.h"
#include "kvlab/v1/evaluator.grpc.pb.h"

namespace kvlab {
namespace {

class EvaluatorClient : public Evaluator {
 public:
  explicit EvaluatorClient(std::unique_ptr<ClientChannel> channel)
      : channel_(std::move(channel)), stub_(v1::EvaluatorService::NewStub(channel_->channel())) {}

  absl::StatusOr<v1::JobStatus> SubmitJob(const v1::SubmitJobRequest& request) override {
    grpc::ClientContext context;
    KVLAB_RETURN_IF_ERROR(channel_->Prepare(&context));
    v1::JobStatus response;
    grpc::Status status = stub_->SubmitJob(&context, request, &response);
    if (!status.ok()) return channel_->Error(status);
    return response;
  }

  absl::Status WatchJob(const std::string& job_id,
                        const std::function<bool(const v1::JobStatus&)>& on_update) override {
    grpc::ClientContext context;
    KVLAB_RETURN_IF_ERROR(channel_->Prepare(&context, "", channel_->options().watch_deadline));
    v1::WatchJobRequest request;
    request.set_job_id(job_id);
    auto reader = stub_->WatchJob(&context, request);
    v1::JobStatus update;
    bool stopped = false;
    while (reader->Read(&update)) {
      if (!stopped && !on_update(update)) {
        stopped = true;
        context.TryCancel();
      }
    }
    grpc::Status status = reader->Finish();
    if (stopped) return absl::OkStatus();  // the caller ended the watch
    if (!status.ok()) return channel_->Error(status);
    return absl::OkStatus();
  }

  absl::StatusOr<v1::ListJobsResponse> ListJobs() override {
    grpc::ClientContext context;
    KVLAB_RETURN_IF_ERROR(channel_->Prepare(&context));
    v1::ListJobsResponse response;
    grpc::Status status = stub_->ListJobs(&context, v1::ListJobsRequest(), &response);
    if (!status.ok()) return channel_->Error(status);
    return response;
  }

  absl::StatusOr<v1::JobStatus> CancelJob(const std::string& job_id) override {
    grpc::ClientContext context;
    KVLAB_RETURN_IF_ERROR(channel_->Prepare(&context));
    v1::CancelJobRequest request;
    request.set_job_id(job_id);
    v1::JobStatus response;
    grpc::Status status = stub_->CancelJob(&context, request, &response);
    if (!status.ok()) return channel_->Error(status);
    return response;
  }

 private:
  std::unique_ptr<ClientChannel> channel_;
  std::unique_ptr<v1::EvaluatorService::Stub> stub_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Evaluator>> NewEvaluatorClient(const ClientOptions& options) {
  KVLAB_ASSIGN_OR_RETURN(std::unique_ptr<ClientChannel> channel, ClientChannel::Create(options));
  return std::unique_ptr<Evaluator>(new EvaluatorClient(std::move(channel)));
}

}  // namespace kvlab
