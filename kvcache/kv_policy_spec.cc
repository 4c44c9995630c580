#include "kvcache/kv_policy_spec.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "kvcache/method_spec.h"

namespace kvlab {

absl::StatusOr<std::string> CanonicalKvPolicy(std::string_view text, std::string* codec) {
  auto invalid = [&](const std::string& what) {
    return absl::InvalidArgumentError(absl::StrCat("method spec: ", what, " in '", std::string(text), "'"));
  };
  KVLAB_ASSIGN_OR_RETURN(SpecTerm t, ParseSpecTerm(text));
  if (t.name == "full") {
    for (const auto& [k, v] : t.params) {
      if (k != "dtype") return invalid(absl::StrCat("full has no parameter '", k, "' (known: dtype)"));
      if (v != "f32" && v != "f16" && v != "bf16") return invalid("full{dtype} must be f32, f16 or bf16");
    }
    *codec = t.params.count("dtype") ? t.params["dtype"] : "f32";
    if (*codec == "f32") t.params.erase("dtype");  // the default is not spelled out
    return t.Canonical();
  }
  return invalid("unknown KV policy (known: full)");
}

}  // namespace kvlab
