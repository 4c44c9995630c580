#include "engine/tokenizer/pre_tokenizer.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "engine/tokenizer/unicode_util.h"

namespace kvlab::tokenizer_internal {
namespace {

// Unicode White_Space, as an RE2 character-class body.
constexpr char kWhitespaceClass[] =
    "\\t\\n\\x0B\\f\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}"
    "\\x{205F}\\x{3000}";

// GPT-2's pattern, used by ByteLevel(use_regex=true).
constexpr char kGpt2Pattern[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

absl::Status Unsupported(const std::string& file, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(file, ": unsupported pre_tokenizer ", what));
}

bool IsWhitespaceOnlyWithoutNewline(std::string_view s, size_t& last_cp_start, size_t& n_cps) {
  size_t pos = 0;
  n_cps = 0;
  while (pos < s.size()) {
    last_cp_start = pos;
    const char32_t cp = NextCodePoint(s, pos);
    if (!IsUnicodeWhitespace(cp) || cp == '\n' || cp == '\r') return false;
    ++n_cps;
  }
  return n_cps > 0;
}

class SplitPreTokenizer : public PreTokenizer {
 public:
  SplitPreTokenizer(std::unique_ptr<RegexSplitter> splitter, bool keep_gaps)
      : splitter_(std::move(splitter)), keep_gaps_(keep_gaps) {}
  void PreTokenize(std::vector<std::string>& pieces, bool) const override {
    std::vector<std::string> out;
    for (const auto& p : pieces) splitter_->Split(p, keep_gaps_, out);
    pieces = std::move(out);
  }

 private:
  std::unique_ptr<RegexSplitter> splitter_;
  bool keep_gaps_;
};

class ByteLevelPreTokenizer : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, std::unique_ptr<RegexSplitter> splitter)
      : add_prefix_space_(add_prefix_space), splitter_(std::move(splitter)) {}
  void PreTokenize(std::vector<std::string>& pieces, bool) const override {
    if (add_prefix_space_) {
      for (auto& p : pieces) {
        if (!p.starts_with(' ')) p = absl::StrCat(" ", p);
      }
    }
    if (splitter_) {
      std::vector<std::string> out;
      for (const auto& p : pieces) splitter_->Split(p, /*keep_gaps=*/true, out);
      pieces = std::move(out);
    }
  }
  bool IsByteLevel() const override { return true; }

 private:
  bool add_prefix_space_;
  std::unique_ptr<RegexSplitter> splitter_;  // null when use_regex is false
};

class MetaspacePreTokenizer : public PreTokenizer {
 public:
  enum class Prepend { kAlways, kFirst, kNever };
  MetaspacePreTokenizer(std::string replacement, Prepend prepend, bool split)
      : replacement_(std::move(replacement)), prepend_(prepend), split_(split) {}
  void PreTokenize(std::vector<std::string>& pieces, bool first_section) const override {
    std::vector<std::string> out;
    for (size_t i = 0; i < pieces.size(); ++i) {
      std::string s = absl::StrReplaceAll(pieces[i], {{" ", replacement_}});
      const bool prepend = prepend_ == Prepend::kAlways || (prepend_ == Prepend::kFirst && first_section && i == 0);
      if (prepend && !s.starts_with(replacement_)) s = absl::StrCat(replacement_, s);
      if (!split_) {
        out.push_back(std::move(s));
        continue;
      }
      // MergedWithNext: every piece starts at a replacement character.
      size_t start = 0;
      size_t pos = s.find(replacement_, 1);
      while (pos != std::string::npos) {
        if (pos > start) out.push_back(s.substr(start, pos - start));
        start = pos;
        pos = s.find(replacement_, pos + replacement_.size());
      }
      if (start < s.size()) out.push_back(s.substr(start));
    }
    pieces = std::move(out);
  }

 private:
  std::string replacement_;
  Prepend prepend_;
  bool split_;
};

class SequencePreTokenizer : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> parts) : parts_(std::move(parts)) {}
  void PreTokenize(std::vector<std::string>& pieces, bool first_section) const override {
    for (const auto& p : parts_) p->PreTokenize(pieces, first_section);
  }
  bool IsByteLevel() const override {
    for (const auto& p : parts_) {
      if (p->IsByteLevel()) return true;
    }
    return false;
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> parts_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<RegexSplitter>> RegexSplitter::Create(std::string_view pattern_view) {
  const std::string pattern(pattern_view);
  std::string p = pattern;
  bool emulate = false;
  constexpr std::string_view kLookahead = "\\s+(?!\\S)";
  if (size_t at = p.find(kLookahead); at != std::string::npos) {
    const std::string rest = p.substr(at + kLookahead.size());
    if (rest != "|\\s+") {
      return absl::InvalidArgumentError(
          absl::StrCat("regex \"", pattern, "\": \\s+(?!\\S) is supported only as the alternative before a final \\s+"));
    }
    p.erase(at, kLookahead.size() + 1);  // keep the trailing \s+ alternative
    emulate = true;
  }
  if (p.find("(?=") != std::string::npos || p.find("(?!") != std::string::npos ||
      p.find("(?<") != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("regex \"", pattern, "\": lookaround is not supported"));
  }
  // Rewrite \s and \S as Unicode White_Space classes.
  std::string rewritten;
  bool in_class = false;
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      const char n = p[i + 1];
      if (n == 's') {
        absl::StrAppend(&rewritten, in_class ? kWhitespaceClass : absl::StrCat("[", kWhitespaceClass, "]"));
      } else if (n == 'S') {
        if (in_class) {
          return absl::InvalidArgumentError(absl::StrCat("regex \"", pattern, "\": \\S inside [] is not supported"));
        }
        absl::StrAppend(&rewritten, "[^", kWhitespaceClass, "]");
      } else {
        rewritten.push_back(c);
        rewritten.push_back(n);
      }
      ++i;
      continue;
    }
    if (c == '[' && !in_class) in_class = true;
    else if (c == ']' && in_class) in_class = false;
    rewritten.push_back(c);
  }
  RE2::Options options;
  options.set_log_errors(false);
  auto re = std::make_unique<RE2>(rewritten, options);
  if (!re->ok()) {
    return absl::InvalidArgumentError(absl::StrCat("regex \"", pattern, "\" does not compile with RE2: ", re->error()));
  }
  return std::unique_ptr<RegexSplitter>(new RegexSplitter(std::move(re), emulate));
}

void RegexSplitter::Split(std::string_view text, bool keep_gaps, std::vector<std::string>& out) const {
  size_t pos = 0;
  size_t gap_start = 0;
  re2::StringPiece match;
  const re2::StringPiece input(text.data(), text.size());
  while (pos < text.size() && re_->Match(input, pos, text.size(), RE2::UNANCHORED, &match, 1)) {
    size_t begin = static_cast<size_t>(match.data() - text.data());
    size_t end = begin + match.size();
    if (end == begin) {  // empty match: step over one code point
      pos = begin + Utf8SeqLen(static_cast<uint8_t>(text[begin]));
      continue;
    }
    if (emulate_lookahead_ && end < text.size()) {
      size_t last_cp_start = 0, n_cps = 0;
      if (IsWhitespaceOnlyWithoutNewline(text.substr(begin, end - begin), last_cp_start, n_cps) && n_cps >= 2) {
        end = begin + last_cp_start;  // `\s+(?!\S)` leaves the last space
      }
    }
    if (keep_gaps && begin > gap_start) out.emplace_back(text.substr(gap_start, begin - gap_start));
    out.emplace_back(text.substr(begin, end - begin));
    pos = end;
    gap_start = end;
  }
  if (keep_gaps && gap_start < text.size()) out.emplace_back(text.substr(gap_start));
}

absl::StatusOr<std::unique_ptr<PreTokenizer>> PreTokenizer::FromJson(const nlohmann::json& config,
                                                                     const std::string& file) {
  if (config.is_null()) return std::unique_ptr<PreTokenizer>();
  if (!config.is_object() || !config.contains("type") || !config["type"].is_string()) {
    return Unsupported(file, config.dump());
  }
  const std::string type = config["type"];
  if (type == "Split") {
    const auto& pattern = config.value("pattern", nlohmann::json::object());
    std::string regex;
    if (pattern.contains("Regex") && pattern["Regex"].is_string()) {
      regex = pattern["Regex"];
    } else if (pattern.contains("String") && pattern["String"].is_string()) {
      regex = RE2::QuoteMeta(pattern["String"].get<std::string>());
    } else {
      return Unsupported(file, "Split without a Regex or String pattern");
    }
    if (config.value("invert", false)) return Unsupported(file, "Split with invert=true");
    const std::string behavior = config.value("behavior", "Isolated");
    if (behavior != "Isolated" && behavior != "Removed") {
      return Unsupported(file, absl::StrCat("Split behavior \"", behavior, "\""));
    }
    auto splitter = RegexSplitter::Create(regex);
    if (!splitter.ok()) return Unsupported(file, std::string(splitter.status().message()));
    return std::unique_ptr<PreTokenizer>(new SplitPreTokenizer(std::move(*splitter), behavior == "Isolated"));
  }
  if (type == "ByteLevel") {
    std::unique_ptr<RegexSplitter> splitter;
    if (config.value("use_regex", true)) {
      auto s = RegexSplitter::Create(kGpt2Pattern);
      if (!s.ok()) return s.status();
      splitter = std::move(*s);
    }
    return std::unique_ptr<PreTokenizer>(
        new ByteLevelPreTokenizer(config.value("add_prefix_space", false), std::move(splitter)));
  }
  if (type == "Metaspace") {
    std::string replacement = config.value("replacement", "\u2581");
    MetaspacePreTokenizer::Prepend prepend = MetaspacePreTokenizer::Prepend::kAlways;
    if (config.contains("prepend_scheme") && config["prepend_scheme"].is_string()) {
      const std::string scheme = config["prepend_scheme"];
      if (scheme == "first") prepend = MetaspacePreTokenizer::Prepend::kFirst;
      else if (scheme == "never") prepend = MetaspacePreTokenizer::Prepend::kNever;
      else if (scheme != "always") return Unsupported(file, absl::StrCat("Metaspace prepend_scheme \"", scheme, "\""));
    } else if (!config.value("add_prefix_space", true)) {
      prepend = MetaspacePreTokenizer::Prepend::kNever;
    }
    return std::unique_ptr<PreTokenizer>(
        new MetaspacePreTokenizer(std::move(replacement), prepend, config.value("split", true)));
  }
  if (type == "Sequence") {
    std::vector<std::unique_ptr<PreTokenizer>> parts;
    for (const auto& part : config.value("pretokenizers", nlohmann::json::array())) {
      auto p = FromJson(part, file);
      if (!p.ok()) return p.status();
      if (*p) parts.push_back(std::move(*p));
    }
    return std::unique_ptr<PreTokenizer>(new SequencePreTokenizer(std::move(parts)));
  }
  return Unsupported(file, absl::StrCat("type \"", type, "\""));
}

}  // namespace kvlab::tokenizer_internal
