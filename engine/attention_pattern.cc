#include "engine/attention_pattern.h"

#include <charconv>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace kvlab {
namespace {

struct Param {
  const char* key;
  int64_t PrefillPattern::*field;
};

// The keys each kind accepts, in canonical order.
std::vector<Param> ParamsOf(PrefillPattern::Kind kind) {
  switch (kind) {
    case PrefillPattern::kDense:
      return {};
    case PrefillPattern::kAShape:
      return {{"n_init", &PrefillPattern::n_init}, {"n_local", &PrefillPattern::n_local}};
    case PrefillPattern::kTriShape:
      return {{"n_init", &PrefillPattern::n_init},
              {"n_local", &PrefillPattern::n_local},
              {"n_last", &PrefillPattern::n_last}};
    case PrefillPattern::kVerticalSlash:
      return {{"n_vertical", &PrefillPattern::n_vertical},
              {"n_slash", &PrefillPattern::n_slash},
              {"last_q", &PrefillPattern::last_q}};
  }
  return {};
}

const char* NameOf(PrefillPattern::Kind kind) {
  switch (kind) {
    case PrefillPattern::kDense:
      return "dense";
    case PrefillPattern::kAShape:
      return "a_shape";
    case PrefillPattern::kTriShape:
      return "tri_shape";
    case PrefillPattern::kVerticalSlash:
      return "vertical_slash";
  }
  return "?";
}

absl::Status Invalid(std::string_view spec, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat("prefill pattern '", std::string(spec), "': ", why));
}

// (The installed absl::string_view is not std::string_view.)
std::string_view Trim(std::string_view s) {
  const char* ws = " \t\n\r";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (size_t b = 0;;) {
    const size_t e = s.find(sep, b);
    out.push_back(s.substr(b, e == std::string_view::npos ? std::string_view::npos : e - b));
    if (e == std::string_view::npos) return out;
    b = e + 1;
  }
}

}  // namespace

std::string PrefillPattern::Canonical() const {
  std::string out = NameOf(kind);
  const std::vector<Param> params = ParamsOf(kind);
  if (params.empty()) return out;
  out += "{";
  for (size_t i = 0; i < params.size(); ++i) {
    absl::StrAppend(&out, i ? "," : "", params[i].key, "=", this->*params[i].field);
  }
  out += "}";
  return out;
}

absl::StatusOr<PrefillPattern> ParsePrefillPattern(std::string_view spec) {
  std::string_view s = Trim(spec);
  std::string_view name = s, body;
  bool has_body = false;
  if (size_t brace = s.find('{'); brace != std::string_view::npos) {
    if (s.back() != '}') return Invalid(spec, "the parameter list must end with '}'");
    name = Trim(s.substr(0, brace));
    body = s.substr(brace + 1, s.size() - brace - 2);
    has_body = true;
    if (body.find_first_of("{}") != std::string_view::npos) {
      return Invalid(spec, "unexpected brace inside the parameter list");
    }
  } else if (s.find('}') != std::string_view::npos) {
    return Invalid(spec, "'}' without a matching '{'");
  }
  PrefillPattern p;
  bool known = false;
  for (PrefillPattern::Kind k : {PrefillPattern::kDense, PrefillPattern::kAShape, PrefillPattern::kTriShape,
                                 PrefillPattern::kVerticalSlash}) {
    if (name == NameOf(k)) {
      p.kind = k;
      known = true;
    }
  }
  if (!known) {
    return Invalid(spec, absl::StrCat("unknown pattern name '", std::string(name),
                                      "' (expected dense, a_shape, tri_shape or vertical_slash)"));
  }
  if (!has_body || Trim(body).empty()) return p;
  const std::vector<Param> params = ParamsOf(p.kind);
  std::set<std::string, std::less<>> seen;
  for (std::string_view item : Split(body, ',')) {
    item = Trim(item);
    if (item.empty()) return Invalid(spec, "empty entry in the parameter list");
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      return Invalid(spec, absl::StrCat("entry '", std::string(item), "' is not of the form key=value"));
    }
    const std::string_view key = Trim(item.substr(0, eq));
    const std::string_view value = Trim(item.substr(eq + 1));
    const Param* param = nullptr;
    for (const Param& candidate : params) {
      if (key == candidate.key) param = &candidate;
    }
    if (param == nullptr) {
      std::string keys;
      for (const Param& candidate : params) absl::StrAppend(&keys, keys.empty() ? "" : ", ", candidate.key);
      return Invalid(spec, absl::StrCat("unknown key '", std::string(key), "' for ", NameOf(p.kind),
                                        keys.empty() ? " (it takes no parameters)" : absl::StrCat(" (expected ", keys, ")")));
    }
    if (!seen.insert(std::string(key)).second) {
      return Invalid(spec, absl::StrCat("key '", std::string(key), "' is given twice"));
    }
    int64_t v = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (value.empty() || ec != std::errc() || ptr != value.data() + value.size()) {
      return Invalid(spec, absl::StrCat("value '", std::string(value), "' of '", std::string(key), "' is not an integer"));
    }
    if (v <= 0) return Invalid(spec, absl::StrCat("'", std::string(key), "' must be positive, got ", v));
    p.*(param->field) = v;
  }
  return p;
}

}  // namespace kvlab
