#include "services/common/server_flags.h"

#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/common/auth.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(std::string, listen, "",
          "host:port or unix:PATH to serve on (default: the binary's own port on 127.0.0.1); a "
          "non-loopback address needs a token or mTLS, or --insecure");
ABSL_FLAG(bool, insecure, false,
          "allow a non-loopback --listen without a token or mTLS (calls are then unauthenticated)");
ABSL_FLAG(std::string, auth_token_file, "",
          "file holding the bearer token required of incoming calls and sent to peers "
          "(default: $KVLAB_AUTH_TOKEN; none = no authentication)");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate chain to serve TLS with (needs --tls_key)");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM CA: incoming calls must present a client certificate it signed; peers' certificates "
          "are verified against it and outgoing calls use TLS");
ABSL_FLAG(int, max_message_mb, 64, "largest message received or sent (MiB)");
ABSL_FLAG(double, drain_seconds, 10, "on SIGTERM/SIGINT, seconds calls in flight get to finish");
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn, error, critical or off");
ABSL_FLAG(double, peer_deadline_s, 600, "deadline of each call to a peer service (seconds)");
ABSL_FLAG(double, connect_timeout_s, 5, "how long a call waits for a peer's connection (seconds)");

namespace kvlab {

bool IsLoopbackListen(const std::string& listen) {
  if (absl::StartsWith(listen, "unix:")) return true;
  const size_t colon = listen.rfind(':');
  std::string host = colon == std::string::npos ? listen : listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return host == "localhost" || host == "::1" || absl::StartsWith(host, "127.");
}

absl::StatusOr<ServerOptions> ServerSetupFromFlags(const std::string& name, const std::string& default_listen) {
  absl::Status logging = SetUpLogging(name, absl::GetFlag(FLAGS_log_level));
  if (!logging.ok()) return absl::InvalidArgumentError(absl::StrCat("--log_level: ", logging.message()));
  ServerOptions options;
  options.listen = absl::GetFlag(FLAGS_listen);
  if (options.listen.empty()) options.listen = default_listen;
  auto token = LoadAuthToken(absl::GetFlag(FLAGS_auth_token_file));
  if (!token.ok()) return absl::Status(token.status().code(), absl::StrCat("--auth_token_file: ", token.status().message()));
  options.auth_token = *token;
  options.tls_cert_file = absl::GetFlag(FLAGS_tls_cert);
  options.tls_key_file = absl::GetFlag(FLAGS_tls_key);
  options.tls_ca_file = absl::GetFlag(FLAGS_tls_ca);
  const int mb = absl::GetFlag(FLAGS_max_message_mb);
  if (mb < 5 || mb > 2047) {
    return absl::InvalidArgumentError(absl::StrCat("--max_message_mb must be in [5, 2047] (entry chunks are 4 MiB), got ", mb));
  }
  options.max_message_bytes = static_cast<int64_t>(mb) << 20;
  if (!IsLoopbackListen(options.listen) && options.auth_token.empty() && options.tls_ca_file.empty() &&
      !absl::GetFlag(FLAGS_insecure)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--listen=", options.listen, " is reachable from other hosts: give a token (--auth_token_file or ",
        "$KVLAB_AUTH_TOKEN) or mTLS (--tls_ca with --tls_cert/--tls_key), or --insecure to serve ",
        "unauthenticated calls"));
  }
  if (absl::GetFlag(FLAGS_drain_seconds) < 0) return absl::InvalidArgumentError("--drain_seconds must be >= 0");
  if (absl::GetFlag(FLAGS_peer_deadline_s) <= 0) return absl::InvalidArgumentError("--peer_deadline_s must be > 0");
  if (absl::GetFlag(FLAGS_connect_timeout_s) <= 0) {
    return absl::InvalidArgumentError("--connect_timeout_s must be > 0");
  }
  return options;
}

ClientOptions PeerOptionsFromFlags(const ServerOptions& server, const std::string& address,
                                   const std::string& peer_name) {
  ClientOptions options;
  options.address = address;
  options.peer_name = peer_name;
  options.token = server.auth_token;
  options.tls_ca_file = server.tls_ca_file;
  if (!server.tls_ca_file.empty()) {
    options.tls_cert_file = server.tls_cert_file;
    options.tls_key_file = server.tls_key_file;
  }
  options.deadline = std::chrono::milliseconds(static_cast<int64_t>(absl::GetFlag(FLAGS_peer_deadline_s) * 1000));
  options.connect_timeout =
      std::chrono::milliseconds(static_cast<int64_t>(absl::GetFlag(FLAGS_connect_timeout_s) * 1000));
  options.max_message_bytes = server.max_message_bytes;
  return options;
}

int ServeUntilSignal(const std::string& name, const ServerOptions& options,
                     const std::vector<grpc::Service*>& services) {
  auto server = GrpcServer::Start(options, services);
  if (!server.ok()) {
    spdlog::critical("cannot start: {}", server.status().ToString());
    return 1;
  }
  spdlog::info("listening on {}", (*server)->address());
  std::printf("kvlab-%s listening on %s\n", name.c_str(), (*server)->address().c_str());
  std::fflush(stdout);
  const int signal = WaitForTerminationSignal();
  const double drain = absl::GetFlag(FLAGS_drain_seconds);
  spdlog::info("signal {}: draining for up to {} s", signal, drain);
  (*server)->Shutdown(std::chrono::milliseconds(static_cast<int64_t>(drain * 1000)));
  spdlog::info("stopped");
  return 0;
}

}  // namespace kvlab
