// UTF-8 and byte-level helpers shared by the tokenizer components.
#ifndef KVLAB_ENGINE_TOKENIZER_UNICODE_UTIL_H_
#define KVLAB_ENGINE_TOKENIZER_UNICODE_UTIL_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace kvlab::tokenizer_internal {

// Length in bytes of the UTF-8 sequence starting with byte `lead` (1 for an
// invalid lead byte, so that iteration always advances).
size_t Utf8SeqLen(uint8_t lead);

// Decodes the code point at s[pos] and advances pos past it. Invalid bytes
// decode as themselves (one byte, value 0xDC00 + byte) and advance by one.
char32_t NextCodePoint(std::string_view s, size_t& pos);

// Appends the UTF-8 encoding of `cp`.
void AppendUtf8(char32_t cp, std::string& out);

// Converts arbitrary bytes to valid UTF-8, replacing each maximal invalid
// subsequence by U+FFFD (the behaviour of Rust's from_utf8_lossy and of the
// WHATWG TextDecoder).
std::string Utf8Lossy(std::string_view bytes);

// True when `cp` has the Unicode White_Space property.
bool IsUnicodeWhitespace(char32_t cp);

// GPT-2's reversible byte <-> code point mapping used by byte-level BPE.
class ByteLevelMap {
 public:
  static const ByteLevelMap& Get();
  // UTF-8 of the code point that stands for byte `b`.
  const std::string& Encode(uint8_t b) const { return byte_to_utf8_[b]; }
  // Maps a byte-level token string back to raw bytes. Returns false when the
  // string contains a code point that stands for no byte.
  bool Decode(std::string_view token, std::string& out) const;

 private:
  ByteLevelMap();
  std::array<std::string, 256> byte_to_utf8_;
  std::array<int16_t, 512> cp_to_byte_;  // code points < 512 only; -1 = none
};

}  // namespace kvlab::tokenizer_internal

#endif  // KVLAB_ENGINE_TOKENIZER_UNICODE_UTIL_H_
