#include "common/hash.h"

#include "absl/strings/str_format.h"

namespace kvlab {

std::string Hash128::ToHex() const { return absl::StrFormat("%016x%016x", high, low); }

Hasher::Hasher() : state_(XXH3_createState()) { XXH3_128bits_reset(state_); }

Hasher::~Hasher() { XXH3_freeState(state_); }

void Hasher::AddRaw(const void* data, size_t size) { XXH3_128bits_update(state_, data, size); }

void Hasher::AddBytes(std::span<const uint8_t> bytes) {
  AddU64(bytes.size());
  AddRaw(bytes.data(), bytes.size());
}

void Hasher::AddString(std::string_view s) {
  AddU64(s.size());
  AddRaw(s.data(), s.size());
}

void Hasher::AddU64(uint64_t v) {
  uint8_t le[8];
  for (int i = 0; i < 8; ++i) le[i] = static_cast<uint8_t>(v >> (8 * i));
  AddRaw(le, sizeof(le));
}

Hash128 Hasher::Finish() const {
  XXH128_hash_t h = XXH3_128bits_digest(state_);
  return {h.high64, h.low64};
}

Hash128 HashBytes(const void* data, size_t size) {
  XXH128_hash_t h = XXH3_128bits(data, size);
  return {h.high64, h.low64};
}

}  // namespace kvlab
