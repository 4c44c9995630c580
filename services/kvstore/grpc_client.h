// A KvStore that talks to a kvlab-kvstore server over gRPC.
#ifndef KVLAB_SERVICES_KVSTORE_GRPC_CLIENT_H_
#define KVLAB_SERVICES_KVSTORE_GRPC_CLIENT_H_

#include <memory>

#include "absl/status/statusor.h"
#include "services/common/client_channel.h"
#include "services/kvstore/kv_store.h"

namespace kvlab {

// The returned store is thread-safe. Put streams the entry in chunks of at
// most options.max_chunk_bytes; Get reassembles the streamed entry and
// verifies every layer against its checksum (DATA_LOSS when it was corrupted
// in transit, never returned). Errors of the server keep their codes, with
// the peer named in the message; a server that cannot be reached gives
// UNAVAILABLE within options.connect_timeout. Errors of ClientChannel::Create.
absl::StatusOr<std::unique_ptr<KvStore>> NewKvStoreClient(const ClientOptions& options);

}  // namespace kvlab

#endif  // KVLAB_SERVICES_KVSTORE_GRPC_CLIENT_H_
