#include "services/kvstore/prefix_index.h"

#include <xxhash.h>

namespace kvlab {

std::vector<uint64_t> PrefixIndex::BlockHashes(std::string_view model_fingerprint, std::string_view method_spec,
                                               std::span<const int32_t> tokens) {
  const size_t n = tokens.size() / kBlockTokens;
  std::vector<uint64_t> out;
  out.reserve(n);
  XXH3_state_t* state = XXH3_createState();
  XXH3_64bits_reset(state);
  const uint32_t lens[2] = {static_cast<uint32_t>(model_fingerprint.size()),
                            static_cast<uint32_t>(method_spec.size())};
  XXH3_64bits_update(state, lens, sizeof(lens));
  XXH3_64bits_update(state, model_fingerprint.data(), model_fingerprint.size());
  XXH3_64bits_update(state, method_spec.data(), method_spec.size());
  uint64_t h = XXH3_64bits_digest(state);
  XXH3_freeState(state);
  for (size_t b = 0; b < n; ++b) {
    h = XXH3_64bits_withSeed(tokens.data() + b * kBlockTokens, kBlockTokens * sizeof(int32_t), h);
    out.push_back(h);
  }
  return out;
}

void PrefixIndex::Insert(const std::string& id, std::string_view model_fingerprint, std::string_view method_spec,
                         std::span<const int32_t> tokens) {
  Erase(id);
  std::vector<uint64_t> chain = BlockHashes(model_fingerprint, method_spec, tokens);
  if (chain.empty()) return;
  for (uint64_t h : chain) blocks_[h].insert(id);
  chains_.emplace(id, std::move(chain));
}

void PrefixIndex::Erase(const std::string& id) {
  auto it = chains_.find(id);
  if (it == chains_.end()) return;
  for (uint64_t h : it->second) {
    auto b = blocks_.find(h);
    if (b == blocks_.end()) continue;
    b->second.erase(id);
    if (b->second.empty()) blocks_.erase(b);
  }
  chains_.erase(it);
}

std::optional<PrefixIndex::Match> PrefixIndex::Longest(
    std::string_view model_fingerprint, std::string_view method_spec, std::span<const int32_t> tokens,
    const std::function<bool(const std::string&, int64_t)>& accept) const {
  const std::vector<uint64_t> chain = BlockHashes(model_fingerprint, method_spec, tokens);
  // A block is only present together with all its parents, so the matched
  // blocks form a prefix of the chain: find its end.
  size_t depth = 0;
  while (depth < chain.size() && blocks_.count(chain[depth])) ++depth;
  for (size_t d = depth; d > 0; --d) {
    const int64_t matched = static_cast<int64_t>(d) * kBlockTokens;
    auto b = blocks_.find(chain[d - 1]);
    if (b == blocks_.end()) continue;
    for (const std::string& id : b->second) {
      if (accept(id, matched)) return Match{id, matched};
    }
  }
  return std::nullopt;
}

}  // namespace kvlab
