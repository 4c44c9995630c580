// Generates random-weight Llama-shaped models for benchmarks (never committed).
#ifndef KVLAB_BENCH_BENCH_MODEL_H_
#define KVLAB_BENCH_BENCH_MODEL_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace kvlab::bench {

struct BenchModelShape {
  int64_t layers = 12;
  int64_t hidden = 768;
  int64_t heads = 12;
  int64_t kv_heads = 4;
  int64_t ffn = 2048;
  int64_t vocab = 32000;
};

// Writes config.json, generation_config.json and model.safetensors (bf16,
// normal(0, 0.02) weights from `seed`, unit norms) for a LlamaForCausalLM of
// `shape` into `dir`, unless `dir` already holds a model of that shape.
absl::Status EnsureBenchModel(const std::string& dir, const BenchModelShape& shape, uint64_t seed = 1);

// Parameter count of the model (embeddings and LM head included).
int64_t ParameterCount(const BenchModelShape& shape);

}  // namespace kvlab::bench

#endif  // KVLAB_BENCH_BENCH_MODEL_H_
