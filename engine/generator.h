// Greedy text generation on top of a Model and a KvCache.
#ifndef KVLAB_ENGINE_GENERATOR_H_
#define KVLAB_ENGINE_GENERATOR_H_

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/model.h"
#include "engine/observation.h"
#include "engine/tokenizer/tokenizer.h"

namespace kvlab {

struct GenerationOptions {
  int64_t max_new_tokens = 128;
  // Generation stops after producing one of these ids (not included in text).
  std::vector<int32_t> eos_ids;
  // Generation stops once the text contains one of these; the text is cut
  // before it.
  std::vector<std::string> stop_strings;
  // Optional: called after every Model::Forward of Generate (the prompt's and
  // each fed generated token's) with the cache, before the next token is
  // chosen; decode-time KV eviction hooks in here (engine/kv_eviction.h). An
  // error stops generation and is returned.
  std::function<absl::Status(KvCache&)> after_step;
  // Optional, not owned: when set, every Forward of Generate observes the
  // attention mass of its queries into *step_observation (overwritten per
  // call), e.g. for H2O decode eviction (DecodeEvictor reads it).
  Observation* step_observation = nullptr;
};

struct GenerationResult {
  enum class Finish { kLength, kEos, kStop };
  std::vector<int32_t> tokens;  // generated ids (eos included when hit)
  std::string text;             // decoded, special tokens skipped, cut at a stop string
  Finish finish = Finish::kLength;
  int64_t prompt_tokens = 0;
  double prefill_seconds = 0;   // feeding the prompt (time to first token)
  double decode_seconds = 0;    // all later steps
  double decode_tokens_per_second() const {
    return tokens.size() > 1 && decode_seconds > 0 ? (tokens.size() - 1) / decode_seconds : 0;
  }
};

// The argmax of a logits row (lowest index on ties).
int32_t Argmax(std::span<const float> row);

// Feeds `prompt` (non-empty) into `cache`, which may already hold a prefix,
// and generates greedily until max_new_tokens, an eos id or a stop string.
// Every generated token except the final one is appended to the cache.
// `tokenizer` (borrowed, may be null) decodes the text; without one the text
// stays empty and stop strings are not allowed. Errors: INVALID_ARGUMENT for
// an empty prompt, max_new_tokens < 1 or stop strings without a tokenizer;
// any error of Model::Forward or Tokenizer::Decode.
absl::StatusOr<GenerationResult> Generate(const Model& model, KvCache& cache,
                                          std::span<const int32_t> prompt,
                                          const Tokenizer* tokenizer,
                                          const GenerationOptions& options);

}  // namespace kvlab

#endif  // KVLAB_ENGINE_GENERATOR_H_
