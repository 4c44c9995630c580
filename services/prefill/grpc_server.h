// The prefill's gRPC service over a Prefiller (usually the local one).
#ifndef KVLAB_SERVICES_PREFILL_GRPC_SERVER_H_
#define KVLAB_SERVICES_PREFILL_GRPC_SERVER_H_

#include "kvlab/v1/prefill.grpc.pb.h"
#include "services/common/auth.h"
#include "services/prefill/prefiller.h"

namespace kvlab {

// Implements kvlab.v1.PrefillService (see prefill.proto). Every call is
// authenticated first. Thread-safe.
class PrefillGrpcService final : public v1::PrefillService::Service {
 public:
  // `prefiller` is borrowed and must outlive the service.
  PrefillGrpcService(Prefiller* prefiller, Authenticator auth);

  grpc::Status Prefill(grpc::ServerContext* context, const v1::PrefillRequest* request,
                       v1::PrefillResponse* response) override;

 private:
  Prefiller& prefiller_;
  const Authenticator auth_;
};

}  // namespace kvlab

#endif  // KVLAB_SERVICES_PREFILL_GRPC_SERVER_H_
