// Outgoing calls: channels to peer services with credentials, bearer token,
// per-call deadlines and a bounded wait for the connection (DESIGN §7).
#ifndef KVLAB_SERVICES_COMMON_CLIENT_CHANNEL_H_
#define KVLAB_SERVICES_COMMON_CLIENT_CHANNEL_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/support/status.h>

#include "absl/status/statusor.h"
#include "kvcache/entry_stream.h"

namespace kvlab {

struct ClientOptions {
  // host:port of the peer.
  std::string address;
  // Names the peer in error messages ("kvstore at 127.0.0.1:7103: ...").
  std::string peer_name = "peer";
  // Bearer token sent with every call; empty = none.
  std::string token;
  // TLS: PEM root certificate(s) the peer's certificate must chain to. Empty
  // = plaintext. A client certificate/key is presented when both are given.
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
  // Overrides the name checked against the peer's certificate.
  std::string tls_server_name;
  // Deadline of every unary call and entry stream.
  std::chrono::milliseconds deadline{std::chrono::minutes(5)};
  // Deadline of long-lived watch streams (evaluator WatchJob).
  std::chrono::milliseconds watch_deadline{std::chrono::hours(24)};
  // How long a call waits for the connection to the peer before failing
  // with UNAVAILABLE (a peer refusing connections fails at once).
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(5)};
  // Largest message sent or received.
  int64_t max_message_bytes = 64ll << 20;
  // Layer bytes per chunk of the entry streams this client sends (<= 4 MiB).
  int64_t max_chunk_bytes = kMaxChunkBytes;
};

// HTTP/2 and TCP settings for streaming multi-MiB KV chunks (large flow
// control window and frames, large TCP reads), as (name, value) channel
// arguments. Clients and servers both apply them.
std::vector<std::pair<std::string, int>> BulkTransferChannelArgs();

// A channel to one peer plus the options its calls use. Thread-safe.
class ClientChannel {
 public:
  // Builds the channel (connecting lazily). INVALID_ARGUMENT for an empty
  // address or chunk size out of (0, 4 MiB]; NOT_FOUND when a TLS file
  // cannot be read.
  static absl::StatusOr<std::unique_ptr<ClientChannel>> Create(const ClientOptions& options);

  const ClientOptions& options() const { return options_; }
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

  // Prepares `context` for one call: bearer token, x-request-id metadata
  // (when `request_id` is not empty), and a deadline of options().deadline
  // (or `deadline`), shortened to the deadline of the server call being
  // handled on this thread, if any (see ScopedIncomingDeadline). Then waits
  // for the channel to be connected: UNAVAILABLE naming the peer when the
  // peer refuses connections or does not answer within connect_timeout.
  absl::Status Prepare(grpc::ClientContext* context, const std::string& request_id = "",
                       std::optional<std::chrono::milliseconds> deadline = std::nullopt) const;

  // `status` of a call to this peer as an absl::Status whose message names
  // the peer ("kvstore at host:port: ...").
  absl::Status Error(const grpc::Status& status) const;
  // For a failed connection: ": <likely cause>" (nothing listening, or a
  // listener that refused the handshake: TLS on one side only, or a refused
  // certificate), found with a plain TCP connect.
  std::string WhyNotConnected() const;

 private:
  ClientChannel(ClientOptions options, std::shared_ptr<grpc::Channel> channel)
      : options_(std::move(options)), channel_(std::move(channel)) {}

  const ClientOptions options_;
  const std::shared_ptr<grpc::Channel> channel_;
};

// While alive, outgoing calls made on this thread end no later than
// `deadline` (the deadline of the incoming call being served), so a server
// reports a slow or dead peer to its caller before the caller gives up.
// ServerCall installs one around every handler. Nestable; not copyable.
class ScopedIncomingDeadline {
 public:
  explicit ScopedIncomingDeadline(std::chrono::system_clock::time_point deadline);
  ~ScopedIncomingDeadline();
  ScopedIncomingDeadline(const ScopedIncomingDeadline&) = delete;
  ScopedIncomingDeadline& operator=(const ScopedIncomingDeadline&) = delete;

  // The innermost deadline installed on this thread, if any.
  static std::optional<std::chrono::system_clock::time_point> Current();

 private:
  std::optional<std::chrono::system_clock::time_point> previous_;
};

}  // namespace kvlab

#endif  // KVLAB_SERVICES_COMMON_CLIENT_CHANNEL_H_
