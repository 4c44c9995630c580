#include "services/evaluator/synthetic_tasks.h"

#include "absl/strings/str_cat.h"
#include "services/evaluator/synthetic_kv.h"

namespace kvlab {

bool IsSyntheticTask(const std::string& task) {
  return task == "kv" || task == "prefix_suffix" || task == "vt" || task == "mf" || task == "passkey" ||
         task == "summary_with_needles" || task == "repoqa_and_kv";
}

absl::StatusOr<TaskSample> GenerateSyntheticSample(const std::string& task, const SyntheticOptions& o,
                                                   const Tokenizer& tokenizer) {
  if (task == "kv") {
    KvTaskOptions k;
    k.context_tokens = o.context_tokens;
    k.turns = o.turns;
    k.seed = o.seed;
    k.index = o.index;
    k.ordered_questions = o.ordered_questions;
    return GenerateKvSample(k, tokenizer);
  }
  if (task == "prefix_suffix") return GeneratePrefixSuffixSample(o, tokenizer);
  if (task == "vt") return GenerateVtSample(o, tokenizer);
  if (task == "mf") return GenerateMfSample(o, tokenizer);
  if (task == "passkey") return GeneratePasskeySample(o, tokenizer);
  if (task == "summary_with_needles") return GenerateSummaryNeedlesSample(o, tokenizer);
  if (task == "repoqa_and_kv") return GenerateRepoQaKvSample(o, tokenizer);
  return absl::InvalidArgumentError(absl::StrCat("'", task, "' has no synthetic generator; give an SCBench file"));
}

}  // namespace kvlab
