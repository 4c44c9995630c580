// Serving a stored KvEntry as a raw callback stream (the kvstore's Get): the
// header message, then every layer chunk. Layer data is sent by reference to
// the entry's own bytes, so the server copies none of it (the kernel's socket
// copy aside); the entry stays alive until the transport has released it.
#ifndef KVLAB_SERVICES_COMMON_ENTRY_WRITE_REACTOR_H_
#define KVLAB_SERVICES_COMMON_ENTRY_WRITE_REACTOR_H_

#include <cstdint>
#include <memory>

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/server_callback.h>

#include "absl/status/statusor.h"
#include "kvcache/kv_entry.h"
#include "services/common/server_call.h"

namespace kvlab {

// A reactor that streams `entry` as kvlab.v1.KvChunk messages (the same bytes
// ForEachChunk's messages serialize to), layer chunks of at most
// `max_chunk_bytes`, then finishes OK; or, when `entry` is an error, finishes
// with that error at once. CANCELLED when the client goes away mid-stream.
// `call` logs the outcome when the stream ends. The reactor deletes itself
// when gRPC is done with it.
grpc::ServerWriteReactor<grpc::ByteBuffer>* NewEntryWriteReactor(
    std::unique_ptr<ServerCall> call, absl::StatusOr<std::shared_ptr<const KvEntry>> entry,
    int64_t max_chunk_bytes);

}  // namespace kvlab

#endif  // KVLAB_SERVICES_COMMON_ENTRY_WRITE_REACTOR_H_
