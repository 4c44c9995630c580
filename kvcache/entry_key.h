// Content keys of KV entries: H(model fingerprint, method spec, tokens).
#ifndef KVLAB_KVCACHE_ENTRY_KEY_H_
#define KVLAB_KVCACHE_ENTRY_KEY_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace kvlab {

// The entry id: 32 hex digits of xxh3-128 over the fingerprint (hex), the
// canonical method spec and the token ids. Deterministic across processes.
std::string EntryKey(std::string_view model_fingerprint, std::string_view method_spec,
                     std::span<const int32_t> tokens);

}  // namespace kvlab

#endif  // KVLAB_KVCACHE_ENTRY_KEY_H_
