#include "kvcache/budget.h"

#include <charconv>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace kvlab {

int64_t Budget::Resolve(int64_t n) const {
  if (!is_ratio) return tokens;
  return static_cast<int64_t>(std::floor(ratio * static_cast<double>(n)));
}

std::string Budget::Canonical() const {
  if (!is_ratio) return absl::StrCat(tokens);
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), ratio);
  std::string s(buf, r.ptr);
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

absl::StatusOr<int64_t> ParseCount(std::string_view text) {
  int64_t v = 0;
  auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || r.ec != std::errc() || r.ptr != text.data() + text.size() || v < 0) {
    return absl::InvalidArgumentError(absl::StrCat("'", std::string(text), "' is not a non-negative integer"));
  }
  return v;
}

absl::StatusOr<Budget> ParseBudget(std::string_view text) {
  Budget b;
  if (text.find_first_of(".eE") == std::string_view::npos) {
    auto n = ParseCount(text);
    if (!n.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("budget '", std::string(text),
                                                     "' is neither a token count nor a ratio like 0.125"));
    }
    b.tokens = *n;
    return b;
  }
  double v = 0;
  auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  if (r.ec != std::errc() || r.ptr != text.data() + text.size() || !(v > 0 && v <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("budget ratio '", std::string(text), "' must be a number in (0, 1]"));
  }
  b.is_ratio = true;
  b.ratio = v;
  return b;
}

}  // namespace kvlab
