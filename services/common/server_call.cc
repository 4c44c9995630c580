#include "services/common/server_call.h"

#include <optional>

#include "services/common/client_channel.h"
#include "services/common/grpc_status.h"
#include "spdlog/spdlog.h"

namespace kvlab {

ServerCall::ServerCall(grpc::ServerContextBase* context, const Authenticator& auth, const char* method,
                       const std::string& request_id)
    : context_(context), auth_(auth), method_(method), request_id_(request_id) {
  if (request_id_.empty()) {
    const auto& metadata = context_->client_metadata();
    auto it = metadata.find(kRequestIdMetadataKey);
    if (it != metadata.end()) request_id_.assign(it->second.data(), std::min<size_t>(it->second.size(), 128));
  }
  if (request_id_.empty()) request_id_ = NewRequestId();
}

grpc::Status ServerCall::Run(const std::function<absl::Status()>& body) {
  absl::Status status = Authenticate();
  if (status.ok()) {
    // Calls to peers made while serving end before this call's deadline.
    const auto deadline = context_->deadline();
    std::optional<ScopedIncomingDeadline> scope;
    if (deadline < std::chrono::system_clock::now() + std::chrono::hours(24 * 365)) scope.emplace(deadline);
    status = body();
  }
  return Finish(status);
}

grpc::Status ServerCall::Finish(const absl::Status& status) const {
  const double ms = watch_.ElapsedMs();
  if (status.ok()) {
    spdlog::info("{} id={} OK {:.1f} ms", method_, request_id_, ms);
  } else {
    spdlog::warn("{} id={} {} {:.1f} ms: {}", method_, request_id_, absl::StatusCodeToString(status.code()), ms,
                 std::string(status.message()));
  }
  return ToGrpcStatus(status);
}

}  // namespace kvlab
