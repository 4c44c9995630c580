#include "kvcache/method_spec.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "engine/attention_pattern.h"
#include "kvcache/kv_policy_spec.h"

namespace kvlab {
namespace {

bool IsNameChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.'; }

absl::Status Invalid(absl::string_view what, absl::string_view text) {
  return absl::InvalidArgumentError(absl::StrCat("method spec: ", what, " in '", text, "'"));
}

// Validates a prefill pattern term (only `dense` until sparse patterns land).
absl::StatusOr<std::string> CanonicalPrefill(absl::string_view text) {
  auto pattern = ParsePrefillPattern(std::string_view(text.data(), text.size()));
  if (!pattern.ok()) return Invalid(std::string(pattern.status().message()), text);
  return pattern->Canonical();
}

}  // namespace

std::string SpecTerm::Canonical() const {
  if (params.empty()) return name;
  std::vector<std::string> parts;
  for (const auto& [k, v] : params) parts.push_back(absl::StrCat(k, "=", v));
  return absl::StrCat(name, "{", absl::StrJoin(parts, ","), "}");
}

absl::StatusOr<SpecTerm> ParseSpecTerm(std::string_view std_text) {
  absl::string_view text(std_text.data(), std_text.size());
  SpecTerm t;
  absl::string_view s = absl::StripAsciiWhitespace(text);
  size_t brace = s.find('{');
  absl::string_view name = s.substr(0, brace);
  if (name.empty()) return Invalid("missing name", text);
  for (char c : name) {
    if (!IsNameChar(c)) return Invalid(absl::StrCat("bad character '", std::string(1, c), "' in name"), text);
  }
  t.name = std::string(name);
  if (brace == absl::string_view::npos) return t;
  if (s.back() != '}') return Invalid("'{' without a closing '}'", text);
  absl::string_view body = s.substr(brace + 1, s.size() - brace - 2);
  if (body.find_first_of("{}") != absl::string_view::npos) return Invalid("nested braces", text);
  if (absl::StripAsciiWhitespace(body).empty()) return t;
  for (absl::string_view kv : absl::StrSplit(body, ',')) {
    std::vector<absl::string_view> p = absl::StrSplit(kv, absl::MaxSplits('=', 1));
    if (p.size() != 2) return Invalid(absl::StrCat("parameter '", kv, "' is not key=value"), text);
    std::string key(absl::StripAsciiWhitespace(p[0])), value(absl::StripAsciiWhitespace(p[1]));
    if (key.empty() || value.empty()) return Invalid("empty parameter key or value", text);
    if (!t.params.emplace(key, value).second) return Invalid(absl::StrCat("duplicate parameter '", key, "'"), text);
  }
  return t;
}

std::string MethodSpec::Canonical() const {
  return absl::StrCat("prefill=", prefill, ";kv=", kv, ";decode=", decode, ";prompt=", prompt);
}

absl::StatusOr<MethodSpec> ParseMethodSpec(std::string_view std_text) {
  absl::string_view text(std_text.data(), std_text.size());
  MethodSpec spec;
  absl::string_view s = absl::StripAsciiWhitespace(text);
  if (s.empty()) return spec;
  std::map<std::string, std::string> parts;
  for (absl::string_view part : absl::StrSplit(s, ';', absl::SkipWhitespace())) {
    std::vector<absl::string_view> kv = absl::StrSplit(part, absl::MaxSplits('=', 1));
    if (kv.size() != 2) return Invalid(absl::StrCat("part '", part, "' is not axis=value"), text);
    std::string axis(absl::StripAsciiWhitespace(kv[0]));
    if (axis != "prefill" && axis != "kv" && axis != "decode" && axis != "prompt") {
      return Invalid(absl::StrCat("unknown axis '", axis, "' (known: prefill, kv, decode, prompt)"), text);
    }
    if (!parts.emplace(axis, std::string(kv[1])).second) {
      return Invalid(absl::StrCat("axis '", axis, "' given twice"), text);
    }
  }
  if (parts.count("prefill")) {
    KVLAB_ASSIGN_OR_RETURN(spec.prefill, CanonicalPrefill(parts["prefill"]));
  }
  if (parts.count("kv")) {
    KVLAB_ASSIGN_OR_RETURN(spec.kv, CanonicalKvPolicy(parts["kv"], &spec.codec));
  }
  if (parts.count("decode")) {
    KVLAB_ASSIGN_OR_RETURN(DecodePolicy decode, ParseDecodePolicy(parts["decode"]));
    spec.decode = decode.canonical;
  }
  for (const char* axis : {"prompt"}) {
    if (parts.count(axis)) {
      KVLAB_ASSIGN_OR_RETURN(SpecTerm t, ParseSpecTerm(parts[axis]));
      if (t.name != "none" || !t.params.empty()) {
        return Invalid(absl::StrCat("unknown ", axis, " policy (known: none)"), text);
      }
    }
  }
  return spec;
}

}  // namespace kvlab
