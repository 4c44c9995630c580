// Seeded generators of the synthetic SCBench tasks, sized in tokens of the
// served model's tokenizer, with their targets spread evenly over the
// context. Each returns a formatted sample (SCBench templates applied).
#ifndef KVLAB_SERVICES_EVALUATOR_SYNTHETIC_TASKS_H_
#define KVLAB_SERVICES_EVALUATOR_SYNTHETIC_TASKS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "engine/tokenizer/tokenizer.h"
#include "services/evaluator/task_sample.h"

namespace kvlab {

struct SyntheticOptions {
  int64_t context_tokens = 1024;  // target context length in model tokens
  int turns = 5;
  uint64_t seed = 1;
  int index = 0;  // session index; with seed, fixes the sample
  // Training curricula only (kvlab-synth --ordered_questions): ask the spread
  // targets front to back instead of in a seeded shuffled order.
  bool ordered_questions = false;
  // repoqa_and_kv: the directory whose C++ sources form the code haystack;
  // empty = $KVLAB_SOURCE_DIR.
  std::string source_dir;
};

// True for the tasks kvlab can generate: kv, prefix_suffix, vt, mf, passkey,
// summary_with_needles (its passkey turns), repoqa_and_kv (its KV turns).
bool IsSyntheticTask(const std::string& task);

// Generates sample `options.index` of `task`. Deterministic in (task, seed,
// index, tokenizer, and the source files for repoqa_and_kv).
// INVALID_ARGUMENT for a task kvlab cannot generate or a length too short for
// the turns; FAILED_PRECONDITION when repoqa_and_kv finds no sources.
absl::StatusOr<TaskSample> GenerateSyntheticSample(const std::string& task, const SyntheticOptions& options,
                                                   const Tokenizer& tokenizer);

// Retr.Prefix-Suffix: a list of random strings; each turn asks for the one
// that starts and ends with given fragments (decoys share one of the two).
absl::StatusOr<TaskSample> GeneratePrefixSuffixSample(const SyntheticOptions& options, const Tokenizer& tokenizer);
// Retr.MultiHop (RULER variable tracking): chains of "VAR X = VAR Y"
// assignments in filler text; each turn asks for every variable of a chain.
absl::StatusOr<TaskSample> GenerateVtSample(const SyntheticOptions& options, const Tokenizer& tokenizer);
// Math.Find: an integer array; turns ask its largest, smallest, median,
// second largest, second smallest number (cycling).
absl::StatusOr<TaskSample> GenerateMfSample(const SyntheticOptions& options, const Tokenizer& tokenizer);
// Passkey NIAH: one five-digit key per turn hidden in filler text.
absl::StatusOr<TaskSample> GeneratePasskeySample(const SyntheticOptions& options, const Tokenizer& tokenizer);
// Mix.Sum+NIAH, needle part: the passkey turns (sub-task "passkey").
absl::StatusOr<TaskSample> GenerateSummaryNeedlesSample(const SyntheticOptions& options,
                                                        const Tokenizer& tokenizer);
// Mix.RepoQA+KV, KV part: JSON key-value objects hidden in a code haystack
// (kvlab's own sources); the turns ask for values (sub-task "kv").
absl::StatusOr<TaskSample> GenerateRepoQaKvSample(const SyntheticOptions& options, const Tokenizer& tokenizer);

}  // namespace kvlab

#endif  // KVLAB_SERVICES_EVALUATOR_SYNTHETIC_TASKS_H_
