// A Prefiller that talks to a kvlab-prefill server over gRPC.
#ifndef KVLAB_SERVICES_PREFILL_GRPC_CLIENT_H_
#define KVLAB_SERVICES_PREFILL_GRPC_CLIENT_H_

#include <memory>

#include "absl/status/statusor.h"
#include "services/common/client_channel.h"
#include "services/prefill/prefiller.h"

namespace kvlab {

// The returned prefiller is thread-safe. Server errors keep their codes with
// the peer named in the message; an unreachable server gives UNAVAILABLE.
// Errors of ClientChannel::Create.
absl::StatusOr<std::unique_ptr<Prefiller>> NewPrefillClient(const ClientOptions& options);

}  // namespace kvlab

#endif  // KVLAB_SERVICES_PREFILL_GRPC_CLIENT_H_
