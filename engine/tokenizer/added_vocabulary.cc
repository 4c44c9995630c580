#include "engine/tokenizer/added_vocabulary.h"

#include <algorithm>
#include <utility>

#include "engine/tokenizer/unicode_util.h"

namespace kvlab::tokenizer_internal {
namespace {

bool IsWordByte(unsigned char c) { return std::isalnum(c) || c == '_' || c >= 0x80; }

// Length of the whitespace prefix / suffix of `s`.
size_t LeadingWhitespace(std::string_view s) {
  size_t pos = 0, end = 0;
  while (pos < s.size()) {
    if (!IsUnicodeWhitespace(NextCodePoint(s, pos))) break;
    end = pos;
  }
  return end;
}

size_t TrailingWhitespace(std::string_view s) {
  size_t n = 0;
  while (n < s.size()) {
    size_t start = s.size() - n - 1;
    while (start > 0 && (static_cast<uint8_t>(s[start]) & 0xC0) == 0x80) --start;
    size_t pos = start;
    if (!IsUnicodeWhitespace(NextCodePoint(s, pos))) break;
    n = s.size() - start;
  }
  return n;
}

}  // namespace

AddedVocabulary::AddedVocabulary(std::vector<AddedToken> tokens) : tokens_(std::move(tokens)) {
  for (size_t i = 0; i < tokens_.size(); ++i) {
    if (tokens_[i].content.empty()) continue;
    by_first_byte_[static_cast<uint8_t>(tokens_[i].content[0])].push_back(static_cast<int32_t>(i));
  }
  for (auto& bucket : by_first_byte_) {
    std::stable_sort(bucket.begin(), bucket.end(), [this](int32_t a, int32_t b) {
      return tokens_[a].content.size() > tokens_[b].content.size();
    });
  }
}

std::vector<Section> AddedVocabulary::Split(std::string_view text) const {
  std::vector<Section> out;
  size_t plain_start = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    const auto& bucket = by_first_byte_[static_cast<uint8_t>(text[pos])];
    const AddedToken* match = nullptr;
    for (int32_t idx : bucket) {
      const AddedToken& t = tokens_[idx];
      if (!text.substr(pos).starts_with(t.content)) continue;
      if (t.single_word) {
        const size_t end = pos + t.content.size();
        if ((pos > 0 && IsWordByte(text[pos - 1])) || (end < text.size() && IsWordByte(text[end]))) continue;
      }
      match = &t;
      break;
    }
    if (match == nullptr) {
      ++pos;
      continue;
    }
    size_t plain_end = pos;
    size_t next = pos + match->content.size();
    if (match->lstrip) plain_end -= TrailingWhitespace(text.substr(plain_start, pos - plain_start));
    if (match->rstrip) next += LeadingWhitespace(text.substr(next));
    if (plain_end > plain_start) out.push_back({text.substr(plain_start, plain_end - plain_start), -1});
    out.push_back({text.substr(plain_end, next - plain_end), match->id});
    pos = next;
    plain_start = next;
  }
  if (plain_start < text.size()) out.push_back({text.substr(plain_start), -1});
  return out;
}

}  // namespace kvlab::tokenizer_internal
