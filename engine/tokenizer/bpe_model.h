// The BPE model of a HF tokenizer.json ("model": {"type": "BPE", ...}).
#ifndef KVLAB_ENGINE_TOKENIZER_BPE_MODEL_H_
#define KVLAB_ENGINE_TOKENIZER_BPE_MODEL_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "nlohmann/json.hpp"

namespace kvlab::tokenizer_internal {

// Byte-pair encoding of pre-tokenized pieces. Two flavours:
//  * byte-level (GPT-2 / Llama-3 / Qwen): pieces are raw bytes; every byte
//    starts as the token of its byte-level character;
//  * SentencePiece-style (Llama-2 / Mistral): pieces are UTF-8; every code
//    point starts as its own token, or as <0xNN> byte tokens (byte_fallback),
//    or as unk.
// Merges run lowest rank first (leftmost on ties) with a heap over a linked
// list of symbols, O(n log n) per piece; results for short pieces are cached.
// Thread-safe: Encode may be called concurrently.
class BpeModel {
 public:
  // Builds the model from the "model" object. INVALID_ARGUMENT mentioning
  // `file` for a non-BPE type or an inconsistent vocabulary/merge list.
  static absl::StatusOr<std::unique_ptr<BpeModel>> FromJson(const nlohmann::json& model, bool byte_level,
                                                            const std::string& file);

  // Appends the ids of `piece` to `out`.
  void Encode(std::string_view piece, std::vector<int32_t>& out) const;

  // Number of ids (max id + 1) of the model's own vocabulary.
  int32_t size() const { return static_cast<int32_t>(id_to_token_.size()); }
  // The token string as written in tokenizer.json ("" for holes in the ids).
  const std::string& IdToToken(int32_t id) const { return id_to_token_[id]; }
  std::optional<int32_t> TokenToId(std::string_view token) const;

 private:
  BpeModel() = default;
  static uint64_t PairKey(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  void EncodeUncached(std::string_view piece, std::vector<int32_t>& out) const;
  // Looks a piece (raw bytes for byte-level models) up in the vocabulary.
  std::optional<int32_t> PieceToId(std::string_view piece) const;

  bool byte_level_ = false;
  bool byte_fallback_ = false;
  bool fuse_unk_ = false;
  bool ignore_merges_ = false;
  std::optional<int32_t> unk_id_;
  std::vector<std::string> id_to_token_;
  absl::flat_hash_map<std::string, int32_t> token_to_id_;
  // Byte-level only: vocabulary keyed by raw bytes, and each byte's token.
  absl::flat_hash_map<std::string, int32_t> bytes_to_id_;
  int32_t byte_ids_[256];
  // SentencePiece only: the <0xNN> byte-fallback tokens.
  int32_t fallback_ids_[256];
  // (left id, right id) -> (rank, merged id).
  absl::flat_hash_map<uint64_t, std::pair<int32_t, int32_t>> merges_;

  mutable absl::Mutex cache_mu_;
  mutable absl::flat_hash_map<std::string, std::vector<int32_t>> cache_ ABSL_GUARDED_BY(cache_mu_);
};

}  // namespace kvlab::tokenizer_internal

#endif  // KVLAB_ENGINE_TOKENIZER_BPE_MODEL_H_
