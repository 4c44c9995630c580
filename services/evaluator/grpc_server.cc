#include "services/evaluator/grpc_server.h"

#include "common/status_macros.h"
#include "services/common/server_call.h"

namespace kvlab {

EvaluatorGrpcService::EvaluatorGrpcService(Evaluator* evaluator, Authenticator auth)
    : evaluator_(*evaluator), auth_(std::move(auth)) {}

grpc::Status EvaluatorGrpcService::SubmitJob(grpc::ServerContext* context, const v1::SubmitJobRequest* request,
                                             v1::JobStatus* response) {
  ServerCall call(context, auth_, "evaluator.SubmitJob");
  return call.Run([&]() -> absl::Status {
    KVLAB_ASSIGN_OR_RETURN(*response, evaluator_.SubmitJob(*request));
    return absl::OkStatus();
  });
}

grpc::Status EvaluatorGrpcService::WatchJob(grpc::ServerContext* context, const v1::WatchJobRequest* request,
                                            grpc::ServerWriter<v1::JobStatus>* writer) {
  ServerCall call(context, auth_, "evaluator.WatchJob");
  return call.Run([&]() -> absl::Status {
    bool client_gone = false;
    KVLAB_RETURN_IF_ERROR(evaluator_.WatchJob(request->job_id(), [&](const v1::JobStatus& status) {
      if (context->IsCancelled() || !writer->Write(status)) {
        client_gone = true;
        return false;
      }
      return true;
    }));
    if (client_gone) return absl::CancelledError("watch: the client went away or the server is draining");
    return absl::OkStatus();
  });
}

grpc::Status EvaluatorGrpcService::ListJobs(grpc::ServerContext* context, const v1::ListJobsRequest* request,
                                            v1::ListJobsResponse* response) {
  ServerCall call(context, auth_, "evaluator.ListJobs");
  return call.Run([&]() -> absl::Status {
    KVLAB_ASSIGN_OR_RETURN(*response, evaluator_.ListJobs());
    return absl::OkStatus();
  });
}

grpc::Status EvaluatorGrpcService::CancelJob(grpc::ServerContext* context, const v1::CancelJobRequest* request,
                                             v1::JobStatus* response) {
  ServerCall call(context, auth_, "evaluator.CancelJob");
  return call.Run([&]() -> absl::Status {
    KVLAB_ASSIGN_OR_RETURN(*response, evaluator_.CancelJob(request->job_id()));
    return absl::OkStatus();
  });
}

}  // namespace kvlab
