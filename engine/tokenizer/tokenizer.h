// Text <-> token ids for the models kvlab serves, driven by a Hugging Face
// tokenizer.json (BPE models only: byte-level BPE as in Llama-3 / Qwen2 / Qwen3
// and SentencePiece-style BPE with byte fallback as in Llama-2 / Mistral).
//
// Supported tokenizer.json components (anything else is rejected when loading):
//   normalizer:     NFC/NFD/NFKC/NFKD, Prepend, Replace, Lowercase, Sequence
//   pre_tokenizer:  Split (regex or string; Isolated/Removed), ByteLevel, Metaspace, Sequence
//   model:          BPE (string or pair-array merges, byte_fallback, fuse_unk, ignore_merges)
//   post_processor: TemplateProcessing, ByteLevel, RobertaProcessing, BertProcessing, Sequence
//   decoder:        ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace, Sequence
// Added tokens honour lstrip/rstrip/single_word; tokens marked "normalized"
// are matched in the raw text like the others (true for every token of the
// supported models' files, which all use normalized=false).
#ifndef KVLAB_ENGINE_TOKENIZER_TOKENIZER_H_
#define KVLAB_ENGINE_TOKENIZER_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"

namespace kvlab {

namespace tokenizer_internal {
class AddedVocabulary;
class BpeModel;
class Decoder;
class Normalizer;
class PreTokenizer;
}  // namespace tokenizer_internal

// A loaded tokenizer. Immutable after loading; every method is thread-safe.
class Tokenizer {
 public:
  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Loads a HF tokenizer.json. Errors name the file: NOT_FOUND (missing),
  // INVALID_ARGUMENT (malformed JSON, unsupported model type e.g.
  // "WordPiece"/"Unigram", unsupported pre-tokenizer/normalizer/decoder).
  // Without a tokenizer_config.json: no eos ids, no clean-up of spaces when
  // decoding, bos = the first special token of the post-processor template.
  static absl::StatusOr<std::unique_ptr<Tokenizer>> FromFile(const std::string& tokenizer_json_path);

  // Loads <dir>/tokenizer.json plus, when present, <dir>/tokenizer_config.json
  // (bos_token, eos_token, clean_up_tokenization_spaces, additional special
  // tokens) and <dir>/generation_config.json (eos_token_id, int or list).
  // Same errors as FromFile, naming whichever file is at fault.
  static absl::StatusOr<std::unique_ptr<Tokenizer>> FromModelDir(const std::string& dir);

  // Same ids as HF `tokenizer.encode(text, add_special_tokens=...)`: added and
  // special tokens present in the text are matched as single tokens;
  // add_special_tokens applies the post-processor (e.g. BOS for Llama). The
  // input should be UTF-8; invalid bytes are encoded byte-wise (byte-level
  // models) or through byte fallback / unk. Never fails today; the StatusOr is
  // for forward compatibility.
  absl::StatusOr<std::vector<int32_t>> Encode(std::string_view text, bool add_special_tokens) const;

  // Same text as HF `decode(ids, skip_special_tokens=...)` (including the
  // tokenizer_config's clean_up_tokenization_spaces). INVALID_ARGUMENT for an
  // id outside [0, vocab_size()) or one that names no token.
  absl::StatusOr<std::string> Decode(std::span<const int32_t> ids, bool skip_special_tokens = false) const;

  int32_t vocab_size() const;  // max id + 1, added tokens included
  std::optional<int32_t> TokenToId(std::string_view token) const;
  std::optional<std::string> IdToToken(int32_t id) const;
  std::optional<int32_t> bos_id() const { return bos_id_; }
  // End-of-sequence ids: tokenizer_config.json's eos_token plus every
  // generation_config.json eos_token_id, deduplicated, config's first.
  std::vector<int32_t> eos_ids() const { return eos_ids_; }
  // True for added tokens marked special and for the config's special tokens.
  bool IsSpecial(int32_t id) const { return special_ids_.contains(id); }

 private:
  struct PostItem {
    bool is_sequence = false;   // the input ids go here
    std::vector<int32_t> ids;   // otherwise: these special ids
  };

  Tokenizer();
  static absl::StatusOr<std::unique_ptr<Tokenizer>> Load(const std::string& path);
  absl::Status LoadConfig(const std::string& dir);

  std::unique_ptr<tokenizer_internal::Normalizer> normalizer_;
  std::unique_ptr<tokenizer_internal::PreTokenizer> pre_tokenizer_;
  std::unique_ptr<tokenizer_internal::BpeModel> model_;
  std::unique_ptr<tokenizer_internal::Decoder> decoder_;
  std::unique_ptr<tokenizer_internal::AddedVocabulary> added_;
  absl::flat_hash_map<int32_t, std::string> added_id_to_token_;
  absl::flat_hash_map<std::string, int32_t> added_token_to_id_;
  // Post-processor template for single sequences; empty = ids unchanged.
  std::vector<PostItem> post_template_;
  absl::flat_hash_set<int32_t> special_ids_;
  std::optional<int32_t> bos_id_;
  std::vector<int32_t> eos_ids_;
  bool clean_up_spaces_ = false;
  int32_t vocab_size_ = 0;
};

}  // namespace kvlab

#endif  // KVLAB_ENGINE_TOKENIZER_TOKENIZER_H_
