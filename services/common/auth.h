// Bearer-token authentication of incoming calls (DESIGN §7).
//
// gRPC 1.51 cannot attach an AuthMetadataProcessor to insecure server
// credentials and its server interceptors cannot fail a call with a status of
// their choosing, so every kvlab service handler checks its call through an
// Authenticator before doing any work (see ServerCall). The gRPC health
// service stays open so that load balancers and `kvlab up` can probe it.
#ifndef KVLAB_SERVICES_COMMON_AUTH_H_
#define KVLAB_SERVICES_COMMON_AUTH_H_

#include <string>

#include <grpcpp/server_context.h>

#include "absl/status/statusor.h"

namespace kvlab {

// The metadata key and scheme of the token ("authorization: Bearer <token>").
inline constexpr char kAuthMetadataKey[] = "authorization";
inline constexpr char kBearerPrefix[] = "Bearer ";
// Environment variable consulted when no token file is given.
inline constexpr char kAuthTokenEnv[] = "KVLAB_AUTH_TOKEN";

// Reads the token: the contents of `token_file` (surrounding whitespace
// removed) when it is not empty, else $KVLAB_AUTH_TOKEN, else "" (auth off).
// NOT_FOUND / INVALID_ARGUMENT when the file is missing or holds no token.
absl::StatusOr<std::string> LoadAuthToken(const std::string& token_file);

// Checks the bearer token of a call. Immutable; thread-safe.
class Authenticator {
 public:
  // `token` empty = authentication off (every call is accepted).
  explicit Authenticator(std::string token = "") : token_(std::move(token)) {}

  bool enabled() const { return !token_.empty(); }

  // OK when auth is off or the call carries "authorization: Bearer <token>"
  // with the right token (compared in constant time); UNAUTHENTICATED with a
  // sentence saying what is missing or wrong otherwise.
  absl::Status Check(const grpc::ServerContextBase& context) const;

 private:
  std::string token_;
};

}  // namespace kvlab

#endif  // KVLAB_SERVICES_COMMON_AUTH_H_
