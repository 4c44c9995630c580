#include "engine/model_config.h"

#include <cmath>
#include <numbers>

#include "absl/strings/str_cat.h"
#include "common/json_file.h"
#include "common/status_macros.h"

namespace kvlab {
namespace {

using nlohmann::json;

// Reads typed keys from a JSON object, producing messages that name the file.
class Reader {
 public:
  Reader(const json& doc, const std::string& path) : doc_(doc), path_(path) {}

  absl::Status Error(const std::string& key, const std::string& what) const {
    return absl::InvalidArgumentError(absl::StrCat("config '", path_, "': key '", key, "' ", what));
  }

  absl::StatusOr<int64_t> Int(const std::string& key) const {
    if (!doc_.contains(key) || doc_[key].is_null()) return Error(key, "is missing");
    if (!doc_[key].is_number_integer()) return Error(key, "must be an integer");
    int64_t v = doc_[key].get<int64_t>();
    if (v <= 0) return Error(key, "must be positive");
    return v;
  }
  absl::StatusOr<int64_t> IntOr(const std::string& key, int64_t fallback) const {
    if (!doc_.contains(key) || doc_[key].is_null()) return fallback;
    return Int(key);
  }
  absl::StatusOr<double> NumberOr(const std::string& key, double fallback) const {
    if (!doc_.contains(key) || doc_[key].is_null()) return fallback;
    if (!doc_[key].is_number()) return Error(key, "must be a number");
    return doc_[key].get<double>();
  }
  absl::StatusOr<bool> BoolOr(const std::string& key, bool fallback) const {
    if (!doc_.contains(key) || doc_[key].is_null()) return fallback;
    if (!doc_[key].is_boolean()) return Error(key, "must be true or false");
    return doc_[key].get<bool>();
  }

 private:
  const json& doc_;
  const std::string& path_;
};

absl::StatusOr<RopeScaling> ParseRopeScaling(const json& doc, const std::string& path) {
  RopeScaling s;
  if (!doc.contains("rope_scaling") || doc["rope_scaling"].is_null()) return s;
  const json& r = doc["rope_scaling"];
  Reader reader(r, path);
  if (!r.is_object()) return reader.Error("rope_scaling", "must be an object or null");
  std::string type;
  if (r.contains("rope_type") && r["rope_type"].is_string()) {
    type = r["rope_type"].get<std::string>();
  } else if (r.contains("type") && r["type"].is_string()) {
    type = r["type"].get<std::string>();
  } else {
    return reader.Error("rope_scaling", "needs a string 'rope_type'");
  }
  if (type == "default") return s;
  KVLAB_ASSIGN_OR_RETURN(s.factor, reader.NumberOr("factor", 1.0));
  if (s.factor <= 0) return reader.Error("rope_scaling.factor", "must be positive");
  if (type == "linear") {
    s.type = RopeScaling::Type::kLinear;
  } else if (type == "llama3") {
    s.type = RopeScaling::Type::kLlama3;
    KVLAB_ASSIGN_OR_RETURN(s.low_freq_factor, reader.NumberOr("low_freq_factor", 1.0));
    KVLAB_ASSIGN_OR_RETURN(s.high_freq_factor, reader.NumberOr("high_freq_factor", 4.0));
    auto orig = reader.Int("original_max_position_embeddings");
    if (!orig.ok()) return orig.status();
    s.original_max_position_embeddings = *orig;
    if (s.high_freq_factor <= s.low_freq_factor) {
      return reader.Error("rope_scaling.high_freq_factor", "must exceed low_freq_factor");
    }
  } else {
    return absl::UnimplementedError(absl::StrCat("config '", path, "': rope_scaling type '", type,
                                                 "' is not supported (supported: linear, llama3)"));
  }
  return s;
}

absl::StatusOr<std::vector<int32_t>> ParseTokenIds(const json& v, const Reader& reader,
                                                   const std::string& key) {
  std::vector<int32_t> ids;
  if (v.is_null()) return ids;
  if (v.is_number_integer()) {
    ids.push_back(v.get<int32_t>());
  } else if (v.is_array()) {
    for (const auto& e : v) {
      if (!e.is_number_integer()) return reader.Error(key, "must hold integers");
      ids.push_back(e.get<int32_t>());
    }
  } else {
    return reader.Error(key, "must be an integer or a list of integers");
  }
  return ids;
}

}  // namespace

absl::StatusOr<ModelConfig> ModelConfig::FromJson(const json& doc, const std::string& path) {
  Reader reader(doc, path);
  if (!doc.is_object()) return absl::InvalidArgumentError(absl::StrCat("config '", path, "' is not a JSON object"));
  ModelConfig c;
  std::string arch;
  if (doc.contains("architectures") && doc["architectures"].is_array() &&
      !doc["architectures"].empty() && doc["architectures"][0].is_string()) {
    arch = doc["architectures"][0].get<std::string>();
  } else {
    return reader.Error("architectures", "is missing (expected e.g. [\"LlamaForCausalLM\"])");
  }
  if (arch == "LlamaForCausalLM") {
    c.architecture = Architecture::kLlama;
  } else if (arch == "MistralForCausalLM") {
    c.architecture = Architecture::kMistral;
  } else if (arch == "Qwen2ForCausalLM") {
    c.architecture = Architecture::kQwen2;
  } else {
    return absl::UnimplementedError(
        absl::StrCat("config '", path, "': architecture '", arch,
                     "' is not supported (supported: LlamaForCausalLM, MistralForCausalLM, "
                     "Qwen2ForCausalLM)"));
  }
  c.architecture_name = arch;
  if (doc.contains("hidden_act") && doc["hidden_act"].is_string() &&
      doc["hidden_act"].get<std::string>() != "silu") {
    return absl::UnimplementedError(absl::StrCat("config '", path, "': hidden_act '",
                                                 doc["hidden_act"].get<std::string>(),
                                                 "' is not supported (only silu)"));
  }
  KVLAB_ASSIGN_OR_RETURN(c.vocab_size, reader.Int("vocab_size"));
  KVLAB_ASSIGN_OR_RETURN(c.hidden_size, reader.Int("hidden_size"));
  KVLAB_ASSIGN_OR_RETURN(c.intermediate_size, reader.Int("intermediate_size"));
  KVLAB_ASSIGN_OR_RETURN(c.num_layers, reader.Int("num_hidden_layers"));
  KVLAB_ASSIGN_OR_RETURN(c.num_heads, reader.Int("num_attention_heads"));
  KVLAB_ASSIGN_OR_RETURN(c.num_kv_heads, reader.IntOr("num_key_value_heads", c.num_heads));
  if (c.num_heads % c.num_kv_heads != 0) {
    return reader.Error("num_key_value_heads", absl::StrCat("(", c.num_kv_heads,
                                                            ") must divide num_attention_heads (",
                                                            c.num_heads, ")"));
  }
  if (doc.contains("head_dim") && !doc["head_dim"].is_null()) {
    KVLAB_ASSIGN_OR_RETURN(c.head_dim, reader.Int("head_dim"));
  } else {
    if (c.hidden_size % c.num_heads != 0) {
      return reader.Error("num_attention_heads", "must divide hidden_size");
    }
    c.head_dim = c.hidden_size / c.num_heads;
  }
  if (c.head_dim % 2 != 0) return reader.Error("head_dim", "must be even for RoPE");
  // Far above any real model, far below what would exhaust memory before the
  // checkpoint's own sizes are compared with them.
  const struct {
    const char* key;
    int64_t value, max;
  } limits[] = {{"vocab_size", c.vocab_size, int64_t{1} << 22},       {"hidden_size", c.hidden_size, 1 << 17},
                {"intermediate_size", c.intermediate_size, 1 << 20}, {"num_hidden_layers", c.num_layers, 1024},
                {"num_attention_heads", c.num_heads, 1024},          {"head_dim", c.head_dim, 1024}};
  for (const auto& l : limits) {
    if (l.value > l.max) return reader.Error(l.key, absl::StrCat("(", l.value, ") is above kvlab's limit of ", l.max));
  }
  KVLAB_ASSIGN_OR_RETURN(c.max_position_embeddings, reader.IntOr("max_position_embeddings", 4096));
  KVLAB_ASSIGN_OR_RETURN(c.rms_norm_eps, reader.NumberOr("rms_norm_eps", 1e-6));
  KVLAB_ASSIGN_OR_RETURN(c.rope_theta, reader.NumberOr("rope_theta", 10000.0));
  if (c.rope_theta <= 0) return reader.Error("rope_theta", "must be positive");
  KVLAB_ASSIGN_OR_RETURN(c.rope_scaling, ParseRopeScaling(doc, path));
  KVLAB_ASSIGN_OR_RETURN(c.tie_word_embeddings, reader.BoolOr("tie_word_embeddings", false));
  bool default_bias = c.architecture == Architecture::kQwen2;
  KVLAB_ASSIGN_OR_RETURN(c.attention_bias, reader.BoolOr("attention_bias", default_bias));
  if (c.architecture == Architecture::kQwen2) c.attention_bias = true;  // always in Qwen2
  if (c.architecture == Architecture::kMistral && doc.contains("sliding_window") &&
      !doc["sliding_window"].is_null()) {
    KVLAB_ASSIGN_OR_RETURN(c.sliding_window, reader.Int("sliding_window"));
  }
  if (c.architecture == Architecture::kQwen2) {
    KVLAB_ASSIGN_OR_RETURN(bool use_sw, reader.BoolOr("use_sliding_window", false));
    if (use_sw) {
      return absl::UnimplementedError(
          absl::StrCat("config '", path, "': Qwen2 use_sliding_window=true is not supported"));
    }
  }
  if (doc.contains("bos_token_id") && doc["bos_token_id"].is_number_integer()) {
    c.bos_token_id = doc["bos_token_id"].get<int32_t>();
  }
  if (doc.contains("eos_token_id")) {
    KVLAB_ASSIGN_OR_RETURN(c.eos_token_ids, ParseTokenIds(doc["eos_token_id"], reader, "eos_token_id"));
  }
  if (doc.contains("torch_dtype") && doc["torch_dtype"].is_string()) {
    c.torch_dtype = doc["torch_dtype"].get<std::string>();
  }
  return c;
}

absl::StatusOr<ModelConfig> ModelConfig::FromModelDir(const std::string& dir) {
  std::string path = dir + "/config.json";
  KVLAB_ASSIGN_OR_RETURN(json doc, ReadJsonFile(path));
  return FromJson(doc, path);
}

std::string ModelConfig::Canonical() const {
  json j;
  j["architecture"] = architecture_name;
  j["vocab_size"] = vocab_size;
  j["hidden_size"] = hidden_size;
  j["intermediate_size"] = intermediate_size;
  j["num_layers"] = num_layers;
  j["num_heads"] = num_heads;
  j["num_kv_heads"] = num_kv_heads;
  j["head_dim"] = head_dim;
  j["max_position_embeddings"] = max_position_embeddings;
  j["rms_norm_eps"] = rms_norm_eps;
  j["rope_theta"] = rope_theta;
  j["rope_scaling"] = {{"type", static_cast<int>(rope_scaling.type)},
                       {"factor", rope_scaling.factor},
                       {"low_freq_factor", rope_scaling.low_freq_factor},
                       {"high_freq_factor", rope_scaling.high_freq_factor},
                       {"original_max_position_embeddings",
                        rope_scaling.original_max_position_embeddings}};
  j["tie_word_embeddings"] = tie_word_embeddings;
  j["attention_bias"] = attention_bias;
  j["sliding_window"] = sliding_window ? json(*sliding_window) : json(nullptr);
  return j.dump();  // nlohmann::json objects keep keys sorted
}

std::vector<double> ModelConfig::RopeInverseFrequencies() const {
  const int64_t half = head_dim / 2;
  std::vector<double> inv(half);
  for (int64_t i = 0; i < half; ++i) {
    inv[i] = 1.0 / std::pow(rope_theta, static_cast<double>(2 * i) / static_cast<double>(head_dim));
  }
  if (rope_scaling.type == RopeScaling::Type::kLinear) {
    for (double& f : inv) f /= rope_scaling.factor;
  } else if (rope_scaling.type == RopeScaling::Type::kLlama3) {
    const double old_ctx = static_cast<double>(rope_scaling.original_max_position_embeddings);
    const double low_wavelen = old_ctx / rope_scaling.low_freq_factor;
    const double high_wavelen = old_ctx / rope_scaling.high_freq_factor;
    for (double& f : inv) {
      const double wavelen = 2.0 * std::numbers::pi / f;
      if (wavelen > low_wavelen) {
        f = f / rope_scaling.factor;
      } else if (wavelen >= high_wavelen) {
        // Medium frequencies: interpolate between scaled and unscaled.
        const double smooth = (old_ctx / wavelen - rope_scaling.low_freq_factor) /
                              (rope_scaling.high_freq_factor - rope_scaling.low_freq_factor);
        f = (1.0 - smooth) * f / rope_scaling.factor + smooth * f;
      }
    }
  }
  return inv;
}

}  // namespace kvlab
