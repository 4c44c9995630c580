// Pre-tokenizers of a HF tokenizer.json ("pre_tokenizer" field).
#ifndef KVLAB_ENGINE_TOKENIZER_PRE_TOKENIZER_H_
#define KVLAB_ENGINE_TOKENIZER_PRE_TOKENIZER_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "re2/re2.h"

namespace kvlab::tokenizer_internal {

// Splits text with a HF-style regex (Oniguruma syntax, as in tokenizer.json)
// run by RE2. RE2 has no lookaround; the GPT-2 idiom `\s+(?!\S)` is emulated
// exactly: a whitespace run matched by the final `\s+` alternative that is
// followed by more text gives back its last character. `\s` / `\S` mean
// Unicode White_Space as in Oniguruma (RE2's are ASCII-only).
class RegexSplitter {
 public:
  // INVALID_ARGUMENT for patterns RE2 cannot run (other lookarounds, ...).
  static absl::StatusOr<std::unique_ptr<RegexSplitter>> Create(std::string_view pattern);
  // Appends the matches of `text` to `matches` and, when `keep_gaps`, the text
  // between matches too, in order.
  void Split(std::string_view text, bool keep_gaps, std::vector<std::string>& out) const;

 private:
  RegexSplitter(std::unique_ptr<RE2> re, bool emulate) : re_(std::move(re)), emulate_lookahead_(emulate) {}
  std::unique_ptr<RE2> re_;
  bool emulate_lookahead_;
};

// Splits one section of the (normalized) input into the pieces the model
// encodes separately. Immutable and thread-safe once built.
class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Replaces `pieces` by their pre-tokenization. `first_section` is true for
  // the first section of the input (for Metaspace's prepend_scheme "first").
  virtual void PreTokenize(std::vector<std::string>& pieces, bool first_section) const = 0;
  // True when this (or a part of it) is a ByteLevel pre-tokenizer, i.e. the
  // model's vocabulary is byte-level.
  virtual bool IsByteLevel() const { return false; }

  // Builds the pre-tokenizer described by `config` (null yields nullptr).
  // Supported: Split (Regex/String pattern; Isolated/Removed behaviour),
  // ByteLevel, Metaspace, Sequence. INVALID_ARGUMENT mentioning `file` otherwise.
  static absl::StatusOr<std::unique_ptr<PreTokenizer>> FromJson(const nlohmann::json& config,
                                                                const std::string& file);
};

}  // namespace kvlab::tokenizer_internal

#endif  // KVLAB_ENGINE_TOKENIZER_PRE_TOKENIZER_H_
