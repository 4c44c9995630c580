// Decoders of a HF tokenizer.json ("decoder" field): token strings -> text.
#ifndef KVLAB_ENGINE_TOKENIZER_DECODER_H_
#define KVLAB_ENGINE_TOKENIZER_DECODER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace kvlab::tokenizer_internal {

// Turns a list of token strings into text, as HF tokenizers' decoders do
// (decode_chain on the list, then concatenation). Immutable and thread-safe.
class Decoder {
 public:
  virtual ~Decoder() = default;
  // Rewrites `tokens` in place (a decode_chain step).
  virtual void DecodeChain(std::vector<std::string>& tokens) const = 0;
  // The whole decoder: DecodeChain, then concatenation.
  std::string Decode(std::vector<std::string> tokens) const;

  // Builds the decoder described by `config` (null yields nullptr). Supported:
  // ByteLevel, Replace (String pattern), ByteFallback, Fuse, Strip, Metaspace,
  // Sequence. INVALID_ARGUMENT mentioning `file` otherwise.
  static absl::StatusOr<std::unique_ptr<Decoder>> FromJson(const nlohmann::json& config, const std::string& file);
};

}  // namespace kvlab::tokenizer_internal

#endif  // KVLAB_ENGINE_TOKENIZER_DECODER_H_
