#include "kvcache/kv_policy_spec.h"

#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "kvcache/codec.h"
#include "kvcache/method_spec.h"

namespace kvlab {
namespace {

using Params = std::map<std::string, std::string>;

// Reads the parameters of an eviction term into `p`, checking names. Writes
// the canonical (complete) parameter map into `canon`.
class TermReader {
 public:
  TermReader(const SpecTerm& term, std::string_view text) : term_(term), text_(text) {}

  absl::Status Invalid(const std::string& what) const {
    return absl::InvalidArgumentError(absl::StrCat("method spec: ", term_.name, ": ", what, " in '",
                                                   std::string(text_), "'"));
  }

  // Checks that every given key is in `known`.
  absl::Status Known(const std::set<std::string>& known) const {
    for (const auto& [k, v] : term_.params) {
      if (!known.count(k)) {
        return Invalid(absl::StrCat("unknown parameter '", k, "' (known: ", absl::StrJoin(known, ", "), ")"));
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<Budget> GetBudget(const std::string& key, const char* fallback) {
    auto it = term_.params.find(key);
    if (it == term_.params.end() && fallback == nullptr) {
      return Invalid(absl::StrCat("parameter '", key, "' is required"));
    }
    auto b = ParseBudget(it == term_.params.end() ? fallback : it->second);
    if (!b.ok()) return Invalid(absl::StrCat(key, ": ", b.status().message()));
    canon_[key] = b->Canonical();
    return *b;
  }

  absl::StatusOr<int64_t> GetCount(const std::string& key, int64_t fallback, int64_t lo, int64_t hi) {
    int64_t v = fallback;
    auto it = term_.params.find(key);
    if (it != term_.params.end()) {
      auto n = ParseCount(it->second);
      if (!n.ok()) return Invalid(absl::StrCat(key, ": ", n.status().message()));
      v = *n;
    }
    if (v < lo || v > hi) return Invalid(absl::StrCat(key, " must be in [", lo, ", ", hi, "], got ", v));
    canon_[key] = absl::StrCat(v);
    return v;
  }

  std::string Canonical() const {
    SpecTerm t;
    t.name = term_.name;
    t.params = canon_;
    return t.Canonical();
  }

  Params& canon() { return canon_; }

 private:
  const SpecTerm& term_;
  std::string_view text_;
  Params canon_;
};

constexpr int64_t kMaxTokens = int64_t{1} << 30;

// Parses an eviction term; returns its canonical spelling.
absl::StatusOr<std::string> ParseEviction(SpecTerm term, std::string_view text, EvictionPolicy* p) {
  // `ratio=r` is another spelling of `capacity=r`.
  if (term.params.count("ratio")) {
    if (term.params.count("capacity")) {
      return absl::InvalidArgumentError(
          absl::StrCat("method spec: ", term.name, ": give capacity or ratio, not both, in '", std::string(text), "'"));
    }
    term.params["capacity"] = term.params["ratio"];
    term.params.erase("ratio");
    if (term.params["capacity"].find_first_of(".eE") == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("method spec: ", term.name, ": ratio must be a number in "
                                                     "(0, 1] with a decimal point, in '", std::string(text), "'"));
    }
  }
  TermReader r(term, text);
  if (term.name == "streamingllm") {
    p->kind = EvictionKind::kStreamingLlm;
    KVLAB_RETURN_IF_ERROR(r.Known({"n_sink", "n_recent"}));
    KVLAB_ASSIGN_OR_RETURN(p->n_sink, r.GetBudget("n_sink", "128"));
    KVLAB_ASSIGN_OR_RETURN(p->n_recent, r.GetBudget("n_recent", "4096"));
    if (!p->n_sink.is_ratio && !p->n_recent.is_ratio && p->n_sink.tokens + p->n_recent.tokens == 0) {
      return r.Invalid("n_sink + n_recent must keep at least one token");
    }
    return r.Canonical();
  }
  if (term.name == "h2o") {
    p->kind = EvictionKind::kH2O;
    KVLAB_RETURN_IF_ERROR(r.Known({"heavy", "recent"}));
    KVLAB_ASSIGN_OR_RETURN(p->heavy, r.GetBudget("heavy", nullptr));
    KVLAB_ASSIGN_OR_RETURN(p->recent, r.GetBudget("recent", nullptr));
    if (!p->heavy.is_ratio && !p->recent.is_ratio && p->heavy.tokens + p->recent.tokens == 0) {
      return r.Invalid("heavy + recent must keep at least one token");
    }
    return r.Canonical();
  }
  const bool snap = term.name == "snapkv", pyramid = term.name == "pyramidkv", chunk = term.name == "chunkkv";
  if (!snap && !pyramid && !chunk) {
    return absl::InvalidArgumentError(absl::StrCat(
        "method spec: unknown KV policy '", term.name,
        "' (known: full, streamingllm, h2o, snapkv, pyramidkv, chunkkv, kivi, flexgen, f32, f16, bf16) in '",
        std::string(text), "'"));
  }
  p->kind = snap ? EvictionKind::kSnapKv : pyramid ? EvictionKind::kPyramidKv : EvictionKind::kChunkKv;
  if (chunk) {
    KVLAB_RETURN_IF_ERROR(r.Known({"chunk", "window", "capacity", "reuse_layers"}));
    KVLAB_ASSIGN_OR_RETURN(p->chunk, r.GetCount("chunk", 10, 1, kMaxTokens));
    KVLAB_ASSIGN_OR_RETURN(p->reuse_layers, r.GetCount("reuse_layers", 1, 1, 1024));
  } else {
    std::set<std::string> known = {"window", "kernel", "pool", "capacity"};
    if (pyramid) known.insert("beta");
    KVLAB_RETURN_IF_ERROR(r.Known(known));
    KVLAB_ASSIGN_OR_RETURN(p->kernel, r.GetCount("kernel", 5, 1, 1025));
    if (p->kernel % 2 == 0) return r.Invalid(absl::StrCat("kernel must be odd, got ", p->kernel));
    const std::string pool = term.params.count("pool") ? term.params.at("pool") : "avg";
    if (pool != "avg" && pool != "max") return r.Invalid(absl::StrCat("pool must be avg or max, got '", pool, "'"));
    p->pool = pool == "avg" ? PoolKind::kAvg : PoolKind::kMax;
    r.canon()["pool"] = pool;
    if (pyramid) {
      KVLAB_ASSIGN_OR_RETURN(p->beta, r.GetCount("beta", 20, 1, 1 << 20));
    }
  }
  KVLAB_ASSIGN_OR_RETURN(p->window, r.GetCount("window", 32, 1, kMaxTokens));
  KVLAB_ASSIGN_OR_RETURN(p->capacity, r.GetBudget("capacity", "2048"));
  if (!p->capacity.is_ratio && p->capacity.tokens <= p->window) {
    return r.Invalid(absl::StrCat("capacity (", p->capacity.tokens, ") must exceed window (", p->window, ")"));
  }
  return r.Canonical();
}

bool IsCodecName(const std::string& name) {
  return name == "f32" || name == "f16" || name == "bf16" || name == "kivi" || name == "flexgen";
}

absl::StatusOr<std::string> CanonicalCodecTerm(const std::string& text) {
  KVLAB_ASSIGN_OR_RETURN(auto codec, MakeCodec(text));
  return codec->name();
}

}  // namespace

absl::StatusOr<KvPolicy> ParseKvPolicy(std::string_view std_text) {
  const std::string text(std_text);
  KvPolicy policy;
  std::vector<std::string> parts = absl::StrSplit(text, '+');
  if (parts.size() > 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("method spec: a KV policy is an eviction, a codec, or eviction+codec, in '", text, "'"));
  }
  KVLAB_ASSIGN_OR_RETURN(SpecTerm first, ParseSpecTerm(parts[0]));
  std::string canonical;
  if (first.name == "full") {
    if (parts.size() > 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("method spec: full takes no '+codec'; write full{dtype=...} or the codec alone, in '", text,
                       "'"));
    }
    for (const auto& [k, v] : first.params) {
      if (k != "dtype") {
        return absl::InvalidArgumentError(absl::StrCat("method spec: full has no parameter '", k,
                                                       "' (known: dtype) in '", text, "'"));
      }
      if (v != "f32" && v != "f16" && v != "bf16") {
        return absl::InvalidArgumentError(
            absl::StrCat("method spec: full{dtype} must be f32, f16 or bf16 in '", text, "'"));
      }
    }
    policy.codec = first.params.count("dtype") ? first.params["dtype"] : std::string(kDefaultEntryCodec);
    if (policy.codec == kDefaultEntryCodec) first.params.erase("dtype");  // the default is not spelled out
    policy.canonical = first.Canonical();
    return policy;
  }
  if (IsCodecName(first.name)) {
    if (parts.size() > 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("method spec: a codec must come last (eviction+codec), in '", text, "'"));
    }
    auto codec = CanonicalCodecTerm(parts[0]);
    if (!codec.ok()) return absl::InvalidArgumentError(absl::StrCat("method spec: ", codec.status().message()));
    policy.codec = *codec;
    // A dense codec alone is `full` in that dtype: one spelling, one cache key.
    if (*codec == kDefaultEntryCodec) {
      policy.canonical = "full";
    } else if (*codec == "f32" || *codec == "f16") {
      policy.canonical = absl::StrCat("full{dtype=", *codec, "}");
    } else {
      policy.canonical = *codec;
    }
    return policy;
  }
  KVLAB_ASSIGN_OR_RETURN(canonical, ParseEviction(first, text, &policy.eviction));
  if (parts.size() == 2) {
    KVLAB_ASSIGN_OR_RETURN(SpecTerm second, ParseSpecTerm(parts[1]));
    if (!IsCodecName(second.name)) {
      return absl::InvalidArgumentError(absl::StrCat("method spec: '", second.name, "' after '+' is not a codec ",
                                                     "(known: kivi, flexgen, f32, f16, bf16) in '", text, "'"));
    }
    auto codec = CanonicalCodecTerm(parts[1]);
    if (!codec.ok()) return absl::InvalidArgumentError(absl::StrCat("method spec: ", codec.status().message()));
    policy.codec = *codec;
    if (*codec != kDefaultEntryCodec) absl::StrAppend(&canonical, "+", *codec);  // the default is not spelled out
  }
  policy.canonical = canonical;
  return policy;
}

absl::StatusOr<std::string> CanonicalKvPolicy(std::string_view text, std::string* codec) {
  KVLAB_ASSIGN_OR_RETURN(KvPolicy p, ParseKvPolicy(text));
  *codec = p.codec;
  return p.canonical;
}

absl::StatusOr<DecodePolicy> ParseDecodePolicy(std::string_view std_text) {
  const std::string text(std_text);
  KVLAB_ASSIGN_OR_RETURN(SpecTerm t, ParseSpecTerm(text));
  DecodePolicy p;
  if (t.name == "none" && t.params.empty()) {
    p.canonical = "none";
    return p;
  }
  if (t.name != "streamingllm" && t.name != "h2o") {
    return absl::InvalidArgumentError(
        absl::StrCat("method spec: unknown decode policy (known: none, streamingllm, h2o) in '", text, "'"));
  }
  KVLAB_ASSIGN_OR_RETURN(p.canonical, ParseEviction(t, text, &p.eviction));
  return p;
}

absl::StatusOr<DecodeEvictionConfig> ResolveDecodePolicy(const DecodePolicy& policy, int64_t context_tokens) {
  DecodeEvictionConfig c;
  const EvictionPolicy& e = policy.eviction;
  if (e.kind == EvictionKind::kStreamingLlm) {
    c.kind = DecodeEvictionConfig::Kind::kStreamingLlm;
    c.n_sink = e.n_sink.Resolve(context_tokens);
    c.n_recent = e.n_recent.Resolve(context_tokens);
  } else if (e.kind == EvictionKind::kH2O) {
    c.kind = DecodeEvictionConfig::Kind::kH2O;
    c.heavy = e.heavy.Resolve(context_tokens);
    c.recent = e.recent.Resolve(context_tokens);
  } else {
    return absl::InvalidArgumentError("decode policy: nothing to evict with (policy is none)");
  }
  if (c.budget() < 1) {
    return absl::InvalidArgumentError(absl::StrCat("decode policy ", policy.canonical, " keeps no rows of a ",
                                                   context_tokens, "-token context"));
  }
  return c;
}

}  // namespace kvlab
