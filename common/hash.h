// 128-bit content hashing (xxh3-128) for fingerprints and cache keys.
#ifndef KVLAB_COMMON_HASH_H_
#define KVLAB_COMMON_HASH_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <xxhash.h>

namespace kvlab {

// A 128-bit hash value; rendered as 32 lowercase hex digits (high word first).
struct Hash128 {
  uint64_t high = 0;
  uint64_t low = 0;

  std::string ToHex() const;
  friend bool operator==(const Hash128&, const Hash128&) = default;
};

// Streaming xxh3-128 hasher. Not thread-safe; one per computation.
// Variable-length fields should go through AddString / AddBytes, which prefix
// the length so that ("ab","c") and ("a","bc") hash differently.
class Hasher {
 public:
  Hasher();
  ~Hasher();
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;

  // Raw bytes, no length prefix.
  void AddRaw(const void* data, size_t size);
  // Length-prefixed bytes.
  void AddBytes(std::span<const uint8_t> bytes);
  void AddString(std::string_view s);
  void AddU64(uint64_t v);

  Hash128 Finish() const;

 private:
  XXH3_state_t* state_;
};

// One-shot xxh3-128 of a byte range.
Hash128 HashBytes(const void* data, size_t size);

}  // namespace kvlab

#endif  // KVLAB_COMMON_HASH_H_
