#include "services/common/auth.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace kvlab {

absl::StatusOr<std::string> LoadAuthToken(const std::string& token_file) {
  if (token_file.empty()) {
    const char* env = std::getenv(kAuthTokenEnv);
    return env == nullptr ? std::string() : std::string(absl::StripAsciiWhitespace(env));
  }
  std::ifstream in(token_file, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read the auth token file '", token_file, "'"));
  std::stringstream contents;
  contents << in.rdbuf();
  std::string token(absl::StripAsciiWhitespace(contents.str()));
  if (token.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("the auth token file '", token_file, "' is empty"));
  }
  return token;
}

absl::Status Authenticator::Check(const grpc::ServerContextBase& context) const {
  if (token_.empty()) return absl::OkStatus();
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(kAuthMetadataKey);
  if (it == metadata.end()) {
    return absl::UnauthenticatedError("this server requires a bearer token (metadata 'authorization: Bearer <token>')");
  }
  const std::string value(it->second.data(), it->second.size());
  const std::string prefix = kBearerPrefix;
  if (value.compare(0, prefix.size(), prefix) != 0) {
    return absl::UnauthenticatedError("the authorization metadata is not of the form 'Bearer <token>'");
  }
  // Constant-time comparison: the time taken does not depend on where the
  // tokens differ.
  const char* given = value.data() + prefix.size();
  const size_t given_size = value.size() - prefix.size();
  unsigned char diff = given_size == token_.size() ? 0 : 1;
  for (size_t i = 0; i < token_.size(); ++i) {
    diff |= static_cast<unsigned char>(token_[i] ^ (i < given_size ? given[i] : 0));
  }
  if (diff != 0) return absl::UnauthenticatedError("the bearer token is not valid for this server");
  return absl::OkStatus();
}

}  // namespace kvlab
