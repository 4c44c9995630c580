// A Compressor that talks to a kvlab-compressor server over gRPC.
#ifndef KVLAB_SERVICES_COMPRESSOR_GRPC_CLIENT_H_
#define KVLAB_SERVICES_COMPRESSOR_GRPC_CLIENT_H_

#include <memory>

#include "absl/status/statusor.h"
#include "services/common/client_channel.h"
#include "services/compressor/compressor.h"

namespace kvlab {

// The returned compressor is thread-safe. Compress streams the entry (chunks
// of at most options.max_chunk_bytes) and the observations, and reassembles
// the compressed entry streamed back, verifying its checksums (DATA_LOSS when
// it was corrupted in transit). Server errors keep their codes with the peer
// named; an unreachable server gives UNAVAILABLE. Errors of
// ClientChannel::Create.
absl::StatusOr<std::unique_ptr<Compressor>> NewCompressorClient(const ClientOptions& options);

}  // namespace kvlab

#endif  // KVLAB_SERVICES_COMPRESSOR_GRPC_CLIENT_H_
