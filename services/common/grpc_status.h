// Converting between absl::Status (used inside kvlab) and grpc::Status (used
// only at the service edge), and logging each served call.
#ifndef KVLAB_SERVICES_COMMON_GRPC_STATUS_H_
#define KVLAB_SERVICES_COMMON_GRPC_STATUS_H_

#include <string>

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace kvlab {

// The grpc::Status with the same code and message. Thread-safe.
grpc::Status ToGrpcStatus(const absl::Status& status);

// The absl::Status with the same code; the message is prefixed with
// `context` (e.g. "kvstore at 10.0.0.5:7001") when it is not empty, so a
// caller can tell which peer failed. Thread-safe.
absl::Status FromGrpcStatus(const grpc::Status& status, const std::string& context = "");

}  // namespace kvlab

#endif  // KVLAB_SERVICES_COMMON_GRPC_STATUS_H_
