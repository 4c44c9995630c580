// The prefix index of the KV store (DESIGN §6): for entries of `full`
// methods, the context is cut into 256-token blocks and each block is hashed
// chained on its parent (h_i = xxh3(block_i, seed = h_{i-1}), h_-1 derived
// from the model fingerprint and method spec), so a block hash names the whole
// prefix ending at that block. A longer prompt finds its longest cached prefix
// by walking its own chain.
#ifndef KVLAB_SERVICES_KVSTORE_PREFIX_INDEX_H_
#define KVLAB_SERVICES_KVSTORE_PREFIX_INDEX_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace kvlab {

// Not thread-safe: the owner synchronizes (the store calls it under its
// lock).
class PrefixIndex {
 public:
  static constexpr int64_t kBlockTokens = 256;

  struct Match {
    std::string id;
    // Tokens of the request covered: a positive multiple of kBlockTokens.
    int64_t matched_tokens = 0;
  };

  // The chained block hashes of every complete block of `tokens`.
  static std::vector<uint64_t> BlockHashes(std::string_view model_fingerprint, std::string_view method_spec,
                                           std::span<const int32_t> tokens);

  // Indexes entry `id` (replacing an earlier insertion of the same id).
  // Entries shorter than one block are not indexed.
  void Insert(const std::string& id, std::string_view model_fingerprint, std::string_view method_spec,
              std::span<const int32_t> tokens);
  // Removes `id`; no-op when it is not indexed.
  void Erase(const std::string& id);

  // The entry covering the longest block-aligned prefix of `tokens` under
  // (fingerprint, method). `accept(id, matched_tokens)` confirms a candidate
  // (the store compares the actual tokens, ruling out hash collisions);
  // rejected candidates are skipped. nullopt when no block matches.
  std::optional<Match> Longest(std::string_view model_fingerprint, std::string_view method_spec,
                               std::span<const int32_t> tokens,
                               const std::function<bool(const std::string&, int64_t)>& accept) const;

  size_t entries() const { return chains_.size(); }
  size_t blocks() const { return blocks_.size(); }

 private:
  // Block hash -> ids of the entries containing that prefix.
  std::unordered_map<uint64_t, std::unordered_set<std::string>> blocks_;
  // Entry id -> its block hashes.
  std::unordered_map<std::string, std::vector<uint64_t>> chains_;
};

}  // namespace kvlab

#endif  // KVLAB_SERVICES_KVSTORE_PREFIX_INDEX_H_
