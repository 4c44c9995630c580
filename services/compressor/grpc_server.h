// The compressor's gRPC service over a Compressor (usually the local one).
#ifndef KVLAB_SERVICES_COMPRESSOR_GRPC_SERVER_H_
#define KVLAB_SERVICES_COMPRESSOR_GRPC_SERVER_H_

#include <cstdint>
#include <limits>

#include "kvcache/entry_stream.h"
#include "kvlab/v1/compressor.grpc.pb.h"
#include "services/common/auth.h"
#include "services/compressor/compressor.h"

namespace kvlab {

struct CompressorServiceOptions {
  // Input entries whose layers add up to more are refused with
  // RESOURCE_EXHAUSTED as soon as their header arrives.
  int64_t max_entry_bytes = std::numeric_limits<int64_t>::max();
  // Layer bytes per chunk of the compressed entry streamed back (<= 4 MiB).
  int64_t max_chunk_bytes = kMaxChunkBytes;
};

// Implements kvlab.v1.CompressorService (see compressor.proto). A malformed
// method spec is refused with INVALID_ARGUMENT as soon as `start` arrives.
// Every call is authenticated first. Thread-safe.
class CompressorGrpcService final : public v1::CompressorService::Service {
 public:
  // `compressor` is borrowed and must outlive the service.
  CompressorGrpcService(Compressor* compressor, Authenticator auth, const CompressorServiceOptions& options = {});

  grpc::Status Compress(grpc::ServerContext* context,
                        grpc::ServerReaderWriter<v1::KvChunk, v1::CompressRequest>* stream) override;

 private:
  Compressor& compressor_;
  const Authenticator auth_;
  const CompressorServiceOptions options_;
};

}  // namespace kvlab

#endif  // KVLAB_SERVICES_COMPRESSOR_GRPC_SERVER_H_
