// The synthetic Retr.KV task (SCBench / InfiniteBench style): a JSON object
// of random UUID keys and values; each turn asks for the value of one key.
#ifndef KVLAB_SERVICES_EVALUATOR_SYNTHETIC_KV_H_
#define KVLAB_SERVICES_EVALUATOR_SYNTHETIC_KV_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "engine/tokenizer/tokenizer.h"
#include "services/evaluator/task_sample.h"

namespace kvlab {

struct KvTaskOptions {
  int64_t context_tokens = 1024;  // target length of the JSON object in model tokens
  int turns = 5;                  // questions per session (distinct keys)
  uint64_t seed = 1;
  int index = 0;                  // session index; with seed, fixes the sample
  bool ordered_questions = false;  // as SyntheticOptions::ordered_questions
};

// Generates one session. The object grows pair by pair until it reaches
// context_tokens tokens of `tokenizer`; the asked keys sit at positions spread
// evenly over the object (first turn near the start, last near the end).
// Deterministic in (seed, index, tokenizer). INVALID_ARGUMENT when the target
// is too short for `turns` pairs.
absl::StatusOr<TaskSample> GenerateKvSample(const KvTaskOptions& options, const Tokenizer& tokenizer);

}  // namespace kvlab

#endif  // KVLAB_SERVICES_EVALUATOR_SYNTHETIC_KV_H_
