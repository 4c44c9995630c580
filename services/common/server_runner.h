// Running a kvlab gRPC server: listening port, credentials, message limits,
// health service, graceful drain, logging (DESIGN §7).
#ifndef KVLAB_SERVICES_COMMON_SERVER_RUNNER_H_
#define KVLAB_SERVICES_COMMON_SERVER_RUNNER_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <grpcpp/server.h>

#include "absl/status/statusor.h"

namespace kvlab {

// Listen/dial addresses with this prefix are Unix domain sockets.
inline constexpr char kUnixAddressPrefix[] = "unix:";

struct ServerOptions {
  // host:port to listen on; port 0 picks a free port (see GrpcServer::port).
  // Or "unix:PATH", a Unix domain socket (co-located services: about three
  // times the bulk throughput of loopback TCP); a stale socket at PATH is
  // replaced, any other file there is left alone and fails the start.
  std::string listen = "127.0.0.1:0";
  // Bearer token every call must carry; empty = auth off. The services
  // check it (see Authenticator); the server itself only logs the mode.
  std::string auth_token;
  // TLS: PEM certificate chain and key; both empty = plaintext. With a CA
  // file, clients must present a certificate signed by it (mutual TLS).
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_ca_file;
  // Largest message received or sent; larger requests fail with
  // RESOURCE_EXHAUSTED before reaching a service.
  int64_t max_message_bytes = 64ll << 20;
};

// A started server. Thread-safe.
class GrpcServer {
 public:
  // Builds and starts a server for `services` (borrowed; they must outlive
  // the server) with the gRPC health service reporting SERVING for "" and
  // each service. INVALID_ARGUMENT for bad options, NOT_FOUND for unreadable
  // TLS files, UNAVAILABLE when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<GrpcServer>> Start(const ServerOptions& options,
                                                           const std::vector<grpc::Service*>& services);
  // Shuts down with no grace period.
  ~GrpcServer();
  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

  // The bound port (0 on a Unix socket), and the address clients dial:
  // "host:port" with it, or the "unix:PATH" listened on.
  int port() const { return port_; }
  const std::string& address() const { return address_; }

  // Graceful drain: health turns NOT_SERVING, new calls are refused, calls in
  // flight get up to `grace` to finish and are cancelled after that. Returns
  // once the server has stopped. Idempotent.
  void Shutdown(std::chrono::milliseconds grace);

 private:
  GrpcServer(std::unique_ptr<grpc::Server> server, std::string address, int port)
      : server_(std::move(server)), address_(std::move(address)), port_(port) {}

  std::mutex mu_;
  bool stopped_ = false;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  int port_;
};

// Sets up spdlog: stderr, lines tagged with `name`, at `level` (trace, debug,
// info, warn, error, critical, off). INVALID_ARGUMENT for an unknown level.
absl::Status SetUpLogging(const std::string& name, const std::string& level);

// Blocks SIGTERM and SIGINT in the calling thread and every thread started
// after it, and ignores SIGPIPE (writes to a closed peer fail with EPIPE
// instead of killing the process). Call first thing in main, before gRPC or
// the model start threads, so that WaitForTerminationSignal receives them.
void BlockTerminationSignals();

// Waits for SIGTERM or SIGINT (blocked by BlockTerminationSignals) and
// returns its number.
int WaitForTerminationSignal();

}  // namespace kvlab

#endif  // KVLAB_SERVICES_COMMON_SERVER_RUNNER_H_
