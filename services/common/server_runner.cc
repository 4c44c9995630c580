#include "services/common/server_runner.h"

#include <csignal>
#include <cstring>
#include <fstream>
#include <sstream>

#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/common/client_channel.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace kvlab {
namespace {

// The PEM text of `path`, which must hold a block ending in `label`
// ("CERTIFICATE", "PRIVATE KEY"): a wrong or garbled file is named here
// rather than surfacing as "cannot listen" from gRPC.
absl::StatusOr<std::string> ReadPem(const std::string& path, const char* what, const char* label) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read the TLS ", what, " file '", path, "'"));
  std::stringstream s;
  s << in.rdbuf();
  const std::string text = s.str();
  const size_t begin = text.find("-----BEGIN ");
  const size_t line_end = begin == std::string::npos ? std::string::npos : text.find("-----", begin + 11);
  if (line_end == std::string::npos || text.substr(begin, line_end - begin).find(label) == std::string::npos ||
      text.find("-----END ", line_end) == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("the TLS ", what, " file '", path, "' holds no PEM ", label,
                                                   " block"));
  }
  return text;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(const ServerOptions& options) {
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return absl::InvalidArgumentError("TLS needs both --tls_cert and --tls_key");
  }
  if (options.tls_cert_file.empty()) {
    if (!options.tls_ca_file.empty()) return absl::InvalidArgumentError("--tls_ca needs --tls_cert and --tls_key");
    return grpc::InsecureServerCredentials();
  }
  grpc::SslServerCredentialsOptions ssl;
  auto cert = ReadPem(options.tls_cert_file, "certificate", "CERTIFICATE");
  if (!cert.ok()) return cert.status();
  auto key = ReadPem(options.tls_key_file, "key", "PRIVATE KEY");
  if (!key.ok()) return key.status();
  ssl.pem_key_cert_pairs.push_back({*key, *cert});
  if (!options.tls_ca_file.empty()) {
    auto ca = ReadPem(options.tls_ca_file, "CA", "CERTIFICATE");
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *ca;
    ssl.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(ssl);
}

sigset_t TerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

}  // namespace

absl::StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Start(const ServerOptions& options,
                                                              const std::vector<grpc::Service*>& services) {
  const bool unix_socket = absl::StartsWith(options.listen, kUnixAddressPrefix);
  const size_t colon = options.listen.rfind(':');
  if (unix_socket ? options.listen.size() == std::strlen(kUnixAddressPrefix)
                  : colon == std::string::npos || colon + 1 == options.listen.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address '", options.listen, "' is neither host:port nor unix:PATH"));
  }
  if (options.max_message_bytes <= 0) return absl::InvalidArgumentError("max_message_bytes must be positive");
  auto credentials = Credentials(options);
  if (!credentials.ok()) return credentials.status();

  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(options.listen, *credentials, &port);
  const int max_message = static_cast<int>(std::min<int64_t>(options.max_message_bytes, INT32_MAX));
  builder.SetMaxReceiveMessageSize(max_message);
  builder.SetMaxSendMessageSize(max_message);
  for (const auto& [name, value] : BulkTransferChannelArgs()) builder.AddChannelArgument(name, value);
  for (grpc::Service* service : services) builder.RegisterService(service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || (!unix_socket && port == 0)) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", options.listen,
        options.tls_cert_file.empty() ? " (address in use or not local?)"
                                      : " (address in use, or --tls_key is not the key of --tls_cert?)"));
  }
  if (auto* health = server->GetHealthCheckService()) health->SetServingStatus(true);
  if (options.auth_token.empty()) {
    spdlog::warn("no auth token configured (--auth_token_file / $KVLAB_AUTH_TOKEN): calls are not authenticated");
  }
  if (unix_socket) return std::unique_ptr<GrpcServer>(new GrpcServer(std::move(server), options.listen, 0));
  return std::unique_ptr<GrpcServer>(
      new GrpcServer(std::move(server), absl::StrCat(options.listen.substr(0, colon), ":", port), port));
}

GrpcServer::~GrpcServer() { Shutdown(std::chrono::milliseconds(0)); }

void GrpcServer::Shutdown(std::chrono::milliseconds grace) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopped_) return;
  stopped_ = true;
  if (auto* health = server_->GetHealthCheckService()) health->SetServingStatus(false);
  server_->Shutdown(std::chrono::system_clock::now() + grace);
  server_->Wait();
}

absl::Status SetUpLogging(const std::string& name, const std::string& level) {
  const spdlog::level::level_enum parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") {
    return absl::InvalidArgumentError(absl::StrCat("unknown log level '", level,
                                                   "' (trace, debug, info, warn, error, critical, off)"));
  }
  auto logger = spdlog::stderr_logger_mt(name);
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %n[%P] %^%l%$ %v");
  logger->set_level(parsed);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  return absl::OkStatus();
}

void BlockTerminationSignals() {
  sigset_t set = TerminationSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // A peer that closes its socket (a killed Redis, a client gone mid-stream)
  // must give EPIPE on that write, not kill the server.
  std::signal(SIGPIPE, SIG_IGN);
}

int WaitForTerminationSignal() {
  sigset_t set = TerminationSignals();
  int signal = 0;
  while (sigwait(&set, &signal) != 0) {
  }
  return signal;
}

}  // namespace kvlab
