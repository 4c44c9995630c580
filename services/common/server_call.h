// One served call: its request id, its authentication, and the log line
// written when it ends (method, request id, status, duration).
#ifndef KVLAB_SERVICES_COMMON_SERVER_CALL_H_
#define KVLAB_SERVICES_COMMON_SERVER_CALL_H_

#include <functional>
#include <string>

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "services/common/auth.h"
#include "services/common/request_context.h"

namespace kvlab {

// Metadata key carrying the request id on calls whose request message has no
// request_id field.
inline constexpr char kRequestIdMetadataKey[] = "x-request-id";

// Not thread-safe; lives on the handler's stack.
class ServerCall {
 public:
  // `request_id` is the request message's field; when empty the
  // x-request-id metadata is used, else a fresh id. `context` and `auth` are
  // borrowed for the call's duration.
  ServerCall(grpc::ServerContextBase* context, const Authenticator& auth, const char* method,
             const std::string& request_id = "");

  const std::string& request_id() const { return request_id_; }

  // Authenticates the call, then runs `body` unless that failed; logs the
  // outcome and returns it as a grpc::Status. UNAUTHENTICATED without running
  // `body` for a missing or wrong token.
  grpc::Status Run(const std::function<absl::Status()>& body);

  // The two halves of Run for calls whose work outlives the handler (callback
  // streams): Authenticate checks the token; Finish logs `status` with the
  // time since construction and converts it. Run = Authenticate, body, Finish.
  absl::Status Authenticate() const { return auth_.Check(*context_); }
  grpc::Status Finish(const absl::Status& status) const;

 private:
  grpc::ServerContextBase* context_;
  const Authenticator& auth_;
  const char* method_;
  std::string request_id_;
  Stopwatch watch_;
};

}  // namespace kvlab

#endif  // KVLAB_SERVICES_COMMON_SERVER_CALL_H_
