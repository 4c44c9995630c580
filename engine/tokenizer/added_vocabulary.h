// Added tokens of a HF tokenizer.json ("added_tokens"): matched in the raw
// input before normalization and encoded as single ids.
#ifndef KVLAB_ENGINE_TOKENIZER_ADDED_VOCABULARY_H_
#define KVLAB_ENGINE_TOKENIZER_ADDED_VOCABULARY_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kvlab::tokenizer_internal {

struct AddedToken {
  int32_t id = 0;
  std::string content;
  bool special = false;
  bool lstrip = false;       // swallow whitespace on the left
  bool rstrip = false;       // swallow whitespace on the right
  bool single_word = false;  // match only when not inside a word
  bool normalized = false;   // (matched on the raw text like the others)
};

// One section of the input: either plain text or an added token.
struct Section {
  std::string_view text;
  int32_t added_id = -1;  // >= 0 for an added token
};

// Splits text on added tokens, leftmost-longest as HF's AddedVocabulary does.
// Immutable and thread-safe once built.
class AddedVocabulary {
 public:
  AddedVocabulary() = default;
  explicit AddedVocabulary(std::vector<AddedToken> tokens);

  std::vector<Section> Split(std::string_view text) const;
  const std::vector<AddedToken>& tokens() const { return tokens_; }

 private:
  std::vector<AddedToken> tokens_;
  // Indices into tokens_ by first byte, longest content first.
  std::array<std::vector<int32_t>, 256> by_first_byte_;
};

}  // namespace kvlab::tokenizer_internal

#endif  // KVLAB_ENGINE_TOKENIZER_ADDED_VOCABULARY_H_
