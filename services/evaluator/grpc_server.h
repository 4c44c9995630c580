// The evaluator's gRPC service over an Evaluator (usually the local one).
#ifndef KVLAB_SERVICES_EVALUATOR_GRPC_SERVER_H_
#define KVLAB_SERVICES_EVALUATOR_GRPC_SERVER_H_

#include "kvlab/v1/evaluator.grpc.pb.h"
#include "services/common/auth.h"
#include "services/evaluator/evaluator.h"

namespace kvlab {

// Implements kvlab.v1.EvaluatorService (see evaluator.proto). WatchJob
// streams until the job ends, the client goes away or the server drains.
// Every call is authenticated first. Thread-safe.
class EvaluatorGrpcService final : public v1::EvaluatorService::Service {
 public:
  // `evaluator` is borrowed and must outlive the service.
  EvaluatorGrpcService(Evaluator* evaluator, Authenticator auth);

  grpc::Status SubmitJob(grpc::ServerContext* context, const v1::SubmitJobRequest* request,
                         v1::JobStatus* response) override;
  grpc::Status WatchJob(grpc::ServerContext* context, const v1::WatchJobRequest* request,
                        grpc::ServerWriter<v1::JobStatus>* writer) override;
  grpc::Status ListJobs(grpc::ServerContext* context, const v1::ListJobsRequest* request,
                        v1::ListJobsResponse* response) override;
  grpc::Status CancelJob(grpc::ServerContext* context, const v1::CancelJobRequest* request,
                         v1::JobStatus* response) override;

 private:
  Evaluator& evaluator_;
  const Authenticator auth_;
};

}  // namespace kvlab

#endif  // KVLAB_SERVICES_EVALUATOR_GRPC_SERVER_H_
