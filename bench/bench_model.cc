#include "bench/bench_model.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "absl/strings/str_cat.h"
#include "common/json_file.h"
#include "common/status_macros.h"
#include "engine/safetensors_writer.h"
#include "nlohmann/json.hpp"

namespace kvlab::bench {
namespace {

// xorshift64* with a Box-Muller pair: fast, deterministic normal samples.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed * 0x9E3779B97F4A7C15ull + 1) {}
  double Uniform() {
    s_ ^= s_ >> 12;
    s_ ^= s_ << 25;
    s_ ^= s_ >> 27;
    return static_cast<double>((s_ * 0x2545F4914F6CDD1Dull) >> 11) * (1.0 / 9007199254740992.0);
  }
  float Normal(float std) {
    double u1 = Uniform() + 1e-300, u2 = Uniform();
    return static_cast<float>(std * std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
  }

 private:
  uint64_t s_;
};

TensorData RandomBF16(Rng& rng, std::vector<int64_t> shape, float std, float mean = 0.0f) {
  TensorData t;
  t.dtype = DType::kBF16;
  t.shape = std::move(shape);
  int64_t n = 1;
  for (int64_t d : t.shape) n *= d;
  t.bytes.resize(n * 2);
  for (int64_t i = 0; i < n; ++i) {
    uint16_t b = FloatToBF16(mean + rng.Normal(std));
    t.bytes[2 * i] = static_cast<uint8_t>(b);
    t.bytes[2 * i + 1] = static_cast<uint8_t>(b >> 8);
  }
  return t;
}

nlohmann::json Config(const BenchModelShape& s) {
  return {{"architectures", {"LlamaForCausalLM"}},
          {"model_type", "llama"},
          {"hidden_size", s.hidden},
          {"intermediate_size", s.ffn},
          {"num_hidden_layers", s.layers},
          {"num_attention_heads", s.heads},
          {"num_key_value_heads", s.kv_heads},
          {"vocab_size", s.vocab},
          {"max_position_embeddings", 32768},
          {"rms_norm_eps", 1e-5},
          {"rope_theta", 500000.0},
          {"hidden_act", "silu"},
          {"tie_word_embeddings", false},
          {"bos_token_id", 1},
          {"eos_token_id", 2},
          {"torch_dtype", "bfloat16"}};
}

}  // namespace

int64_t ParameterCount(const BenchModelShape& s) {
  const int64_t hd = s.hidden / s.heads;
  const int64_t per_layer = 2 * s.hidden * s.hidden + 2 * s.hidden * s.kv_heads * hd +
                            3 * s.hidden * s.ffn + 2 * s.hidden;
  return 2 * s.vocab * s.hidden + s.layers * per_layer + s.hidden;
}

absl::Status EnsureBenchModel(const std::string& dir, const BenchModelShape& shape, uint64_t seed) {
  const nlohmann::json config = Config(shape);
  auto existing = ReadJsonFile(dir + "/config.json");
  if (existing.ok() && *existing == config && std::filesystem::exists(dir + "/model.safetensors")) {
    return absl::OkStatus();
  }
  std::filesystem::create_directories(dir);
  Rng rng(seed);
  const int64_t hd = shape.hidden / shape.heads;
  std::map<std::string, TensorData> t;
  t["model.embed_tokens.weight"] = RandomBF16(rng, {shape.vocab, shape.hidden}, 0.02f);
  t["lm_head.weight"] = RandomBF16(rng, {shape.vocab, shape.hidden}, 0.02f);
  t["model.norm.weight"] = RandomBF16(rng, {shape.hidden}, 0.01f, 1.0f);
  for (int64_t l = 0; l < shape.layers; ++l) {
    const std::string p = absl::StrCat("model.layers.", l, ".");
    t[p + "input_layernorm.weight"] = RandomBF16(rng, {shape.hidden}, 0.01f, 1.0f);
    t[p + "post_attention_layernorm.weight"] = RandomBF16(rng, {shape.hidden}, 0.01f, 1.0f);
    t[p + "self_attn.q_proj.weight"] = RandomBF16(rng, {shape.heads * hd, shape.hidden}, 0.02f);
    t[p + "self_attn.k_proj.weight"] = RandomBF16(rng, {shape.kv_heads * hd, shape.hidden}, 0.02f);
    t[p + "self_attn.v_proj.weight"] = RandomBF16(rng, {shape.kv_heads * hd, shape.hidden}, 0.02f);
    t[p + "self_attn.o_proj.weight"] = RandomBF16(rng, {shape.hidden, shape.heads * hd}, 0.02f);
    t[p + "mlp.gate_proj.weight"] = RandomBF16(rng, {shape.ffn, shape.hidden}, 0.02f);
    t[p + "mlp.up_proj.weight"] = RandomBF16(rng, {shape.ffn, shape.hidden}, 0.02f);
    t[p + "mlp.down_proj.weight"] = RandomBF16(rng, {shape.hidden, shape.ffn}, 0.02f);
  }
  KVLAB_RETURN_IF_ERROR(WriteSafetensors(dir + "/model.safetensors", t, {{"format", "pt"}}));
  std::ofstream(dir + "/generation_config.json") << nlohmann::json{{"bos_token_id", 1}, {"eos_token_id", 2}}.dump(2);
  std::ofstream(dir + "/config.json") << config.dump(2);
  return absl::OkStatus();
}

}  // namespace kvlab::bench
