#include "engine/tokenizer/unicode_util.h"

namespace kvlab::tokenizer_internal {

size_t Utf8SeqLen(uint8_t lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  if ((lead & 0xF8) == 0xF0) return 4;
  return 1;
}

namespace {

// Returns the length of the valid UTF-8 sequence at s[pos], or 0 when the
// bytes there are not a complete valid sequence. `maximal_subpart` receives
// the length of the longest valid prefix (at least 1) for error recovery.
size_t ValidSeqLen(std::string_view s, size_t pos, size_t& maximal_subpart) {
  const auto b0 = static_cast<uint8_t>(s[pos]);
  maximal_subpart = 1;
  if (b0 < 0x80) return 1;
  size_t len;
  uint8_t lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  for (size_t i = 1; i < len; ++i) {
    if (pos + i >= s.size()) return 0;
    const auto b = static_cast<uint8_t>(s[pos + i]);
    const uint8_t l = i == 1 ? lo : 0x80;
    const uint8_t h = i == 1 ? hi : 0xBF;
    if (b < l || b > h) return 0;
    maximal_subpart = i + 1;
  }
  return len;
}

}  // namespace

char32_t NextCodePoint(std::string_view s, size_t& pos) {
  size_t subpart;
  const size_t len = ValidSeqLen(s, pos, subpart);
  const auto b0 = static_cast<uint8_t>(s[pos]);
  if (len == 0) {
    ++pos;
    return 0xDC00 + b0;
  }
  char32_t cp;
  switch (len) {
    case 1: cp = b0; break;
    case 2: cp = b0 & 0x1F; break;
    case 3: cp = b0 & 0x0F; break;
    default: cp = b0 & 0x07; break;
  }
  for (size_t i = 1; i < len; ++i) cp = (cp << 6) | (static_cast<uint8_t>(s[pos + i]) & 0x3F);
  pos += len;
  return cp;
}

void AppendUtf8(char32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string Utf8Lossy(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  size_t pos = 0;
  while (pos < bytes.size()) {
    size_t subpart;
    const size_t len = ValidSeqLen(bytes, pos, subpart);
    if (len == 0) {
      out.append("\xEF\xBF\xBD");
      pos += subpart;
    } else {
      out.append(bytes.substr(pos, len));
      pos += len;
    }
  }
  return out;
}

bool IsUnicodeWhitespace(char32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

const ByteLevelMap& ByteLevelMap::Get() {
  static const ByteLevelMap* const kMap = new ByteLevelMap();
  return *kMap;
}

ByteLevelMap::ByteLevelMap() {
  cp_to_byte_.fill(-1);
  int n = 0;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    const char32_t cp = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + n++);
    AppendUtf8(cp, byte_to_utf8_[b]);
    cp_to_byte_[cp] = static_cast<int16_t>(b);
  }
}

bool ByteLevelMap::Decode(std::string_view token, std::string& out) const {
  size_t pos = 0;
  const size_t start = out.size();
  while (pos < token.size()) {
    const char32_t cp = NextCodePoint(token, pos);
    if (cp >= cp_to_byte_.size() || cp_to_byte_[cp] < 0) {
      out.resize(start);
      return false;
    }
    out.push_back(static_cast<char>(cp_to_byte_[cp]));
  }
  return true;
}

}  // namespace kvlab::tokenizer_internal
