// Content keys of KV entries: H(model fingerprint, method spec, tokens).
#ifndef KVLAB_KVCACHE_ENTRY_KEY_H_
#define KVLAB_KVCACHE_ENTRY_KEY_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "kvlab/v1/common.pb.h"

namespace kvlab {

// The entry id: 32 hex digits of xxh3-128 over the fingerprint (hex), the
// canonical method spec and the token ids. Deterministic across processes.
std::string EntryKey(std::string_view model_fingerprint, std::string_view method_spec,
                     std::span<const int32_t> tokens);

// Whether `id` has the shape of an EntryKey (32 lowercase hex digits). Named
// entries (session checkpoints) must not: names and content ids live in
// separate key spaces, so a name can never replace a content-addressed entry.
bool IsContentKey(std::string_view id);

// OK when `id` is a content key and the header's fingerprint, method and
// tokens hash to it, or when `id` is a name (not checked here). DATA_LOSS,
// naming the id, when a content-addressed entry holds another context.
absl::Status CheckContentKey(std::string_view id, const v1::KvEntryHeader& header);

}  // namespace kvlab

#endif  // KVLAB_KVCACHE_ENTRY_KEY_H_
