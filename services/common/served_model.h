// The model a prefill or decode server serves: backend, weights, tokenizer.
#ifndef KVLAB_SERVICES_COMMON_SERVED_MODEL_H_
#define KVLAB_SERVICES_COMMON_SERVED_MODEL_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "engine/backend.h"
#include "engine/model.h"
#include "engine/tokenizer/tokenizer.h"

namespace kvlab {

// Owns the backend, the model loaded on it and the tokenizer (null when the
// directory has no tokenizer.json: requests then carry token ids). Members
// are destroyed model first, backend last.
struct ServedModel {
  std::unique_ptr<Backend> backend;
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;
};

// Loads the Hugging Face model directory `dir` on `backend` (taken; null: the
// CPU backend). Errors of
// Model::Load and Tokenizer::FromModelDir (a missing tokenizer.json is not
// an error), naming the directory.
absl::StatusOr<ServedModel> LoadServedModel(const std::string& dir, std::unique_ptr<Backend> backend = nullptr);

}  // namespace kvlab

#endif  // KVLAB_SERVICES_COMMON_SERVED_MODEL_H_
