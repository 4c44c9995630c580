// Normalizers of a HF tokenizer.json ("normalizer" field).
#ifndef KVLAB_ENGINE_TOKENIZER_NORMALIZER_H_
#define KVLAB_ENGINE_TOKENIZER_NORMALIZER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace kvlab::tokenizer_internal {

// Rewrites the text of one section of the input (the text between added
// tokens) before pre-tokenization. Immutable and thread-safe once built.
class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void Normalize(std::string& text) const = 0;

  // Builds the normalizer described by `config` (a JSON object; null yields
  // nullptr). Supported types: NFC, NFD, NFKC, NFKD, Prepend, Replace (String or
  // Regex pattern), Lowercase, Sequence. INVALID_ARGUMENT, mentioning `file`,
  // for anything else.
  static absl::StatusOr<std::unique_ptr<Normalizer>> FromJson(const nlohmann::json& config,
                                                              const std::string& file);
};

}  // namespace kvlab::tokenizer_internal

#endif  // KVLAB_ENGINE_TOKENIZER_NORMALIZER_H_
