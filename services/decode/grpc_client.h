// A DecodeWorker that talks to a kvlab-decode server over gRPC.
#ifndef KVLAB_SERVICES_DECODE_GRPC_CLIENT_H_
#define KVLAB_SERVICES_DECODE_GRPC_CLIENT_H_

#include <memory>

#include "absl/status/statusor.h"
#include "services/common/client_channel.h"
#include "services/decode/decode_worker.h"

namespace kvlab {

// The returned worker is thread-safe. Server errors keep their codes with the
// peer named in the message; an unreachable server gives UNAVAILABLE.
// Errors of ClientChannel::Create.
absl::StatusOr<std::unique_ptr<DecodeWorker>> NewDecodeClient(const ClientOptions& options);

}  // namespace kvlab

#endif  // KVLAB_SERVICES_DECODE_GRPC_CLIENT_H_
