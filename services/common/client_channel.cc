#include "services/common/client_channel.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include "absl/strings/str_cat.h"
#include "services/common/auth.h"
#include "services/common/grpc_status.h"
#include "services/common/server_call.h"

namespace kvlab {
namespace {

using Clock = std::chrono::system_clock;

thread_local std::optional<Clock::time_point> t_incoming_deadline;

absl::StatusOr<std::string> ReadPem(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read the TLS ", what, " file '", path, "'"));
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

double Seconds(std::chrono::milliseconds d) { return static_cast<double>(d.count()) / 1000.0; }

}  // namespace

std::vector<std::pair<std::string, int>> BulkTransferChannelArgs() {
  return {
      {GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 64 << 20},
      {GRPC_ARG_HTTP2_MAX_FRAME_SIZE, (16 << 20) - 1},
      {GRPC_ARG_HTTP2_WRITE_BUFFER_SIZE, 16 << 20},
      {GRPC_ARG_TCP_READ_CHUNK_SIZE, 4 << 20},
      {GRPC_ARG_TCP_MIN_READ_CHUNK_SIZE, 1 << 20},
      {GRPC_ARG_TCP_MAX_READ_CHUNK_SIZE, 16 << 20},
  };
}

absl::StatusOr<std::unique_ptr<ClientChannel>> ClientChannel::Create(const ClientOptions& options) {
  if (options.address.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("no address was given for the ", options.peer_name));
  }
  if (options.max_chunk_bytes <= 0 || options.max_chunk_bytes > kMaxChunkBytes) {
    return absl::InvalidArgumentError(absl::StrCat("max_chunk_bytes must be in [1, ", kMaxChunkBytes, "], got ",
                                                   options.max_chunk_bytes));
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(static_cast<int>(std::min<int64_t>(options.max_message_bytes, INT32_MAX)));
  args.SetMaxSendMessageSize(static_cast<int>(std::min<int64_t>(options.max_message_bytes, INT32_MAX)));
  // Reconnect quickly after a peer restarts.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  // Each ClientChannel gets its own connection (not shared with other
  // channels to the same address), so streams of different clients do not
  // queue behind each other.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  for (const auto& [name, value] : BulkTransferChannelArgs()) args.SetInt(name, value);
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options.tls_ca_file.empty()) {
    credentials = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions ssl;
    auto ca = ReadPem(options.tls_ca_file, "CA");
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *ca;
    if (!options.tls_cert_file.empty() && !options.tls_key_file.empty()) {
      auto cert = ReadPem(options.tls_cert_file, "certificate");
      if (!cert.ok()) return cert.status();
      auto key = ReadPem(options.tls_key_file, "key");
      if (!key.ok()) return key.status();
      ssl.pem_cert_chain = *cert;
      ssl.pem_private_key = *key;
    }
    credentials = grpc::SslCredentials(ssl);
    if (!options.tls_server_name.empty()) args.SetSslTargetNameOverride(options.tls_server_name);
  }
  auto channel = grpc::CreateCustomChannel(options.address, credentials, args);
  return std::unique_ptr<ClientChannel>(new ClientChannel(options, std::move(channel)));
}

absl::Status ClientChannel::Prepare(grpc::ClientContext* context, const std::string& request_id,
                                    std::optional<std::chrono::milliseconds> deadline) const {
  const Clock::time_point now = Clock::now();
  Clock::time_point call_deadline = now + deadline.value_or(options_.deadline);
  if (auto incoming = ScopedIncomingDeadline::Current(); incoming && *incoming < call_deadline) {
    call_deadline = *incoming;
  }
  context->set_deadline(call_deadline);
  if (!options_.token.empty()) context->AddMetadata(kAuthMetadataKey, std::string(kBearerPrefix) + options_.token);
  if (!request_id.empty()) context->AddMetadata(kRequestIdMetadataKey, request_id);

  // Bounded wait for the connection, so a dead peer is reported as
  // UNAVAILABLE rather than as a hang or an expired deadline. Leave a fifth
  // of the remaining time to report the failure upstream.
  const auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(call_deadline - now);
  const auto wait = std::min(options_.connect_timeout, remaining * 4 / 5);
  const Clock::time_point wait_until = now + wait;
  while (true) {
    const grpc_connectivity_state state = channel_->GetState(/*try_to_connect=*/true);
    if (state == GRPC_CHANNEL_READY) return absl::OkStatus();
    if (state == GRPC_CHANNEL_TRANSIENT_FAILURE || state == GRPC_CHANNEL_SHUTDOWN) {
      return absl::UnavailableError(absl::StrCat(options_.peer_name, " at ", options_.address,
                                                 " is unavailable (connection failed", WhyNotConnected(), ")"));
    }
    if (!channel_->WaitForStateChange(state, wait_until)) {
      return absl::UnavailableError(absl::StrCat(options_.peer_name, " at ", options_.address,
                                                 " is unavailable (not connected within ", Seconds(wait), " s)"));
    }
  }
}

std::string ClientChannel::WhyNotConnected() const {
  // A TCP connection that succeeds where gRPC's failed points at TLS: one
  // side speaks it and the other does not, or the certificate is refused.
  const size_t colon = options_.address.rfind(':');
  if (options_.address.rfind("unix:", 0) == 0 || colon == std::string::npos) return "";
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  std::string host = options_.address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  if (::getaddrinfo(host.c_str(), options_.address.substr(colon + 1).c_str(), &hints, &found) != 0) {
    return ": the host name does not resolve";
  }
  bool accepted = false;
  for (addrinfo* a = found; a != nullptr && !accepted; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype, a->ai_protocol);
    if (fd < 0) continue;
    accepted = ::connect(fd, a->ai_addr, a->ai_addrlen) == 0;
    ::close(fd);
  }
  ::freeaddrinfo(found);
  if (!accepted) return ": nothing accepts connections there";
  return options_.tls_ca_file.empty()
             ? ": the port accepts connections but the handshake failed; does the peer serve TLS (then give "
               "--tls_ca)?"
             : ": the port accepts connections but the TLS handshake failed; check that the peer serves TLS, that "
               "its certificate chains to --tls_ca and names this address (or set the server name)";
}

absl::Status ClientChannel::Error(const grpc::Status& status) const {
  return FromGrpcStatus(status, absl::StrCat(options_.peer_name, " at ", options_.address));
}

ScopedIncomingDeadline::ScopedIncomingDeadline(Clock::time_point deadline) : previous_(t_incoming_deadline) {
  if (!t_incoming_deadline || deadline < *t_incoming_deadline) t_incoming_deadline = deadline;
}

ScopedIncomingDeadline::~ScopedIncomingDeadline() { t_incoming_deadline = previous_; }

std::optional<Clock::time_point> ScopedIncomingDeadline::Current() { return t_incoming_deadline; }

}  // namespace kvlab
