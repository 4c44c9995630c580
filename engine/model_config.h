// The architecture hyper-parameters of a Hugging Face model (config.json).
#ifndef KVLAB_ENGINE_MODEL_CONFIG_H_
#define KVLAB_ENGINE_MODEL_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace kvlab {

enum class Architecture { kLlama, kMistral, kQwen2 };

// RoPE frequency scaling (config.json "rope_scaling").
struct RopeScaling {
  enum class Type { kNone, kLinear, kLlama3 };
  Type type = Type::kNone;
  double factor = 1.0;
  double low_freq_factor = 1.0;   // llama3 only
  double high_freq_factor = 4.0;  // llama3 only
  int64_t original_max_position_embeddings = 0;  // llama3 only
};

struct ModelConfig {
  Architecture architecture = Architecture::kLlama;
  std::string architecture_name;  // e.g. "LlamaForCausalLM"
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  bool tie_word_embeddings = false;
  bool attention_bias = false;          // q/k/v projections carry biases (Qwen2)
  std::optional<int64_t> sliding_window;  // keys within this many positions (Mistral)
  std::optional<int32_t> bos_token_id;
  std::vector<int32_t> eos_token_ids;
  std::string torch_dtype;

  // Parses and validates a config.json document. `path` is used in messages.
  // INVALID_ARGUMENT names the file and the offending key (missing, wrong
  // type, inconsistent such as heads not dividing hidden size or KV heads not
  // dividing heads); UNIMPLEMENTED for an unsupported architecture, hidden
  // activation or rope scaling type.
  static absl::StatusOr<ModelConfig> FromJson(const nlohmann::json& doc, const std::string& path);
  // Reads <dir>/config.json and parses it.
  static absl::StatusOr<ModelConfig> FromModelDir(const std::string& dir);

  int64_t group_size() const { return num_heads / num_kv_heads; }
  // A canonical, stable JSON rendering of every field above (sorted keys),
  // used for the model fingerprint.
  std::string Canonical() const;
  // RoPE inverse frequencies (head_dim / 2 values) with the scaling applied,
  // following the Hugging Face formulas.
  std::vector<double> RopeInverseFrequencies() const;
};

}  // namespace kvlab

#endif  // KVLAB_ENGINE_MODEL_CONFIG_H_
