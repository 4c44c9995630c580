// The decode worker's gRPC service over a DecodeWorker (usually the local one).
#ifndef KVLAB_SERVICES_DECODE_GRPC_SERVER_H_
#define KVLAB_SERVICES_DECODE_GRPC_SERVER_H_

#include "kvlab/v1/decode.grpc.pb.h"
#include "services/common/auth.h"
#include "services/decode/decode_worker.h"

namespace kvlab {

// Implements kvlab.v1.DecodeService (see decode.proto). Every call is
// authenticated first. Thread-safe.
class DecodeGrpcService final : public v1::DecodeService::Service {
 public:
  // `worker` is borrowed and must outlive the service.
  DecodeGrpcService(DecodeWorker* worker, Authenticator auth);

  grpc::Status Answer(grpc::ServerContext* context, const v1::AnswerRequest* request,
                      v1::AnswerResponse* response) override;
  grpc::Status Turn(grpc::ServerContext* context, const v1::TurnRequest* request,
                    v1::TurnResponse* response) override;
  grpc::Status CloseSession(grpc::ServerContext* context, const v1::CloseSessionRequest* request,
                            v1::CloseSessionResponse* response) override;

 private:
  DecodeWorker& worker_;
  const Authenticator auth_;
};

}  // namespace kvlab

#endif  // KVLAB_SERVICES_DECODE_GRPC_SERVER_H_
