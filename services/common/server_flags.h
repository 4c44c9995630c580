// Command-line flags shared by the kvlab server binaries (kvlab-prefill,
// -compressor, -kvstore, -decode, -evaluator) and the main loop they share.
//
//   --listen            host:port or unix:PATH to serve on (default: the
//                       binary's port on 127.0.0.1)
//   --insecure          allow a non-loopback --listen without token or mTLS
//   --auth_token_file   bearer token for incoming and outgoing calls
//                       (else $KVLAB_AUTH_TOKEN; none = auth off)
//   --tls_cert/--tls_key  serve TLS with this PEM certificate chain and key
//   --tls_ca            CA for peers' certificates: requires client
//                       certificates on incoming calls and verifies peers
//                       on outgoing ones
//   --max_message_mb    largest message accepted or sent
//   --drain_seconds     grace period for calls in flight on SIGTERM/SIGINT
//   --log_level         spdlog level
//   --peer_deadline_s   deadline of each call to a peer service
//   --connect_timeout_s how long a call waits for a peer's connection
//
// Only binaries reference this file, so the flags are defined only there.
#ifndef KVLAB_SERVICES_COMMON_SERVER_FLAGS_H_
#define KVLAB_SERVICES_COMMON_SERVER_FLAGS_H_

#include <string>
#include <vector>

#include <grpcpp/impl/codegen/service_type.h>

#include "absl/status/statusor.h"
#include "services/common/client_channel.h"
#include "services/common/server_runner.h"

namespace kvlab {

// Whether a --listen address is reachable only from this host: unix:PATH,
// 127.0.0.0/8, ::1 or localhost.
bool IsLoopbackListen(const std::string& listen);

// Sets up logging for server `name` and returns the server options from the
// flags (`default_listen` when --listen is empty), with the token loaded.
// Errors name the offending flag; FAILED_PRECONDITION for a non-loopback
// --listen with neither a token nor mTLS (--tls_ca) unless --insecure.
absl::StatusOr<ServerOptions> ServerSetupFromFlags(const std::string& name, const std::string& default_listen);

// Options for calls to the peer `peer_name` at `address`: the server's token
// and TLS files, --peer_deadline_s and --connect_timeout_s.
ClientOptions PeerOptionsFromFlags(const ServerOptions& server, const std::string& address,
                                   const std::string& peer_name);

// Starts the server, prints "kvlab-<name> listening on host:port" to stdout,
// waits for SIGTERM/SIGINT, drains for --drain_seconds and returns the exit
// code (0 after a clean drain, 1 when the server could not start).
int ServeUntilSignal(const std::string& name, const ServerOptions& options,
                     const std::vector<grpc::Service*>& services);

}  // namespace kvlab

#endif  // KVLAB_SERVICES_COMMON_SERVER_FLAGS_H_
