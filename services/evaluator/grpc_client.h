// An Evaluator that talks to a kvlab-evaluator server over gRPC.
#ifndef KVLAB_SERVICES_EVALUATOR_GRPC_CLIENT_H_
#define KVLAB_SERVICES_EVALUATOR_GRPC_CLIENT_H_

#include <memory>

#include "absl/status/statusor.h"
#include "services/common/client_channel.h"
#include "services/evaluator/evaluator.h"

namespace kvlab {

// The returned evaluator is thread-safe. WatchJob uses
// options.watch_deadline, the other calls options.deadline. Server errors
// keep their codes with the peer named; an unreachable server gives
// UNAVAILABLE. Errors of ClientChannel::Create.
absl::StatusOr<std::unique_ptr<Evaluator>> NewEvaluatorClient(const ClientOptions& options);

}  // namespace kvlab

#endif  // KVLAB_SERVICES_EVALUATOR_GRPC_CLIENT_H_
