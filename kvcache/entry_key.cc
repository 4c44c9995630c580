#include "kvcache/entry_key.h"

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

}  // namespace kvlab
