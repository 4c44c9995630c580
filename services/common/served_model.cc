#include "services/common/served_model.h"

#include <filesystem>

#include "absl/strings/str_cat.h"

namespace kvlab {

absl::StatusOr<ServedModel> LoadServedModel(const std::string& dir, std::unique_ptr<Backend> backend) {
  if (dir.empty()) return absl::InvalidArgumentError("--model (a Hugging Face model directory) is required");
  ServedModel served;
  served.backend = backend != nullptr ? std::move(backend) : NewCpuBackend();
  auto model = Model::Load(dir, *served.backend);
  if (!model.ok()) return model.status();
  served.model = std::move(*model);
  if (std::filesystem::exists(std::filesystem::path(dir) / "tokenizer.json")) {
    auto tokenizer = Tokenizer::FromModelDir(dir);
    if (!tokenizer.ok()) return tokenizer.status();
    served.tokenizer = std::move(*tokenizer);
  }
  return served;
}

}  // namespace kvlab
