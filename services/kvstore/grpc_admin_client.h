// The kvstore's admin calls (Pin .. Verify, kvstore.proto) from a client:
// what the store CLI uses beside the KvStore client (grpc_client.h).
#ifndef KVLAB_SERVICES_KVSTORE_GRPC_ADMIN_CLIENT_H_
#define KVLAB_SERVICES_KVSTORE_GRPC_ADMIN_CLIENT_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "kvlab/v1/kvstore.grpc.pb.h"
#include "services/common/client_channel.h"

namespace kvlab {

// Thread-safe. Every call has the channel's deadline and bearer token;
// errors of the server keep their codes with the peer named in the message
// (NOT_FOUND for an unknown id, UNIMPLEMENTED for a store without tiers,
// UNAUTHENTICATED for a missing or wrong token), and a server that cannot be
// reached gives UNAVAILABLE within options.connect_timeout.
class KvStoreAdminClient {
 public:
  // Errors of ClientChannel::Create.
  static absl::StatusOr<std::unique_ptr<KvStoreAdminClient>> Create(const ClientOptions& options);

  // Pins `id` (never evicted nor demoted until Unpin).
  absl::Status Pin(const std::string& id);
  // Unpins `id`; OK when it was not pinned.
  absl::Status Unpin(const std::string& id);
  // Leases `id` for `ttl_ms` milliseconds; returns the lease id.
  // INVALID_ARGUMENT for ttl_ms <= 0.
  absl::StatusOr<uint64_t> Lease(const std::string& id, int64_t ttl_ms);
  // Ends lease `lease_id`; NOT_FOUND when unknown or expired.
  absl::Status Release(uint64_t lease_id);
  // Usage and counters per tier (fastest first) and the quarantined entries.
  absl::StatusOr<v1::TiersResponse> Tiers();
  // Re-checks every copy of `id` against its checksums: DATA_LOSS (the entry
  // is quarantined by the server) when one is corrupt.
  absl::Status Verify(const std::string& id);

 private:
  explicit KvStoreAdminClient(std::unique_ptr<ClientChannel> channel);

  // Runs the unary admin call `rpc` with a prepared context.
  template <typename Request, typename Response, typename Rpc>
  absl::StatusOr<Response> Call(const Request& request, Rpc rpc);

  std::unique_ptr<ClientChannel> channel_;
  std::unique_ptr<v1::KvStoreService::StubInterface> stub_;
};

}  // namespace kvlab

#endif  // KVLAB_SERVICES_KVSTORE_GRPC_ADMIN_CLIENT_H_
