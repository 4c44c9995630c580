#include "kvcache/entry_key.h"

#include "absl/strings/str_cat.h"
#include "common/hash.h"

namespace kvlab {

std::string EntryKey(std::string_view model_fingerprint, std::string_view method_spec,
                     std::span<const int32_t> tokens) {
  Hasher h;
  h.AddString("kvlab-entry-v1");
  h.AddString(model_fingerprint);
  h.AddString(method_spec);
  h.AddU64(tokens.size());
  for (int32_t t : tokens) h.AddU64(static_cast<uint32_t>(t));
  return h.Finish().ToHex();
}

bool IsContentKey(std::string_view id) {
  if (id.size() != 32) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

absl::Status CheckContentKey(std::string_view id, const v1::KvEntryHeader& header) {
  if (!IsContentKey(id)) return absl::OkStatus();
  const std::string key = EntryKey(header.model_fingerprint(), header.method_spec(),
                                   std::span<const int32_t>(header.tokens().data(), header.tokens().size()));
  if (key == id) return absl::OkStatus();
  return absl::DataLossError(absl::StrCat("KV entry '", std::string(id), "' holds another context (its header hashes to ",
                                          key, "): refusing to serve it"));
}

}  // namespace kvlab
