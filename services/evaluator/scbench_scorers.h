// Per-turn scores of SCBench tasks, in two variants: `scbench` reproduces the
// upstream harness (scbench/compute_scores.py, MInference) including its
// defects, so numbers compare with the paper's; `strict` fixes the known
// defects. SCORING.md lists the rules side by side.
#ifndef KVLAB_SERVICES_EVALUATOR_SCBENCH_SCORERS_H_
#define KVLAB_SERVICES_EVALUATOR_SCBENCH_SCORERS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "services/evaluator/repoqa_score.h"

namespace kvlab {

enum class ScorerVariant { kScbench, kStrict };

const char* ScorerVariantName(ScorerVariant variant);  // "scbench" / "strict"
// INVALID_ARGUMENT for anything but "scbench" and "strict".
absl::StatusOr<ScorerVariant> ParseScorerVariant(const std::string& name);

struct TurnToScore {
  std::string task;     // the sample's task, e.g. "qa_eng" or "repoqa_and_kv"
  std::string subtask;  // the turn's sub-task for the Mix tasks; empty otherwise
  std::string prediction;
  nlohmann::json label;   // as TaskTurn::label
  std::string func_name;  // RepoQA: the asked function
  // RepoQA: every needle of the repository (borrowed; may be null, then the
  // asked function alone is compared).
  const std::vector<RepoQaNeedle>* needles = nullptr;
  std::string gold_code;  // RepoQA: the asked function's code (used when needles is null)
  std::vector<std::string> options;  // En.MultiChoice: the four options (strict parsing)
};

// The score of one turn in [0, 1]. Thread-safe. Unknown tasks score by
// substring match.
double ScoreScbenchTurn(ScorerVariant variant, const TurnToScore& turn);

}  // namespace kvlab

#endif  // KVLAB_SERVICES_EVALUATOR_SCBENCH_SCORERS_H_
