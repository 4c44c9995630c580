// Aggregation of per-turn records into SCBench's four abilities (paper
// Table 4): String Retrieval, Semantic Retrieval, Global Information and
// Multi-task, and their average, per (method, mode).
#ifndef KVLAB_SERVICES_EVALUATOR_ABILITIES_H_
#define KVLAB_SERVICES_EVALUATOR_ABILITIES_H_

#include <map>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"

namespace kvlab {

struct MethodModeScores {
  std::string method;
  std::string mode;
  // Task -> mean score. A Mix task's score is the mean of its sub-tasks'
  // means (each sub-task weighs the same, as the harness reports them apart).
  std::map<std::string, double> tasks;
  // Ability name -> mean of its tasks' scores (only abilities with tasks).
  std::map<std::string, double> abilities;
  // Mean of the abilities present (tasks outside the four, e.g. passkey, do
  // not count).
  double avg = 0;
  double entry_bytes = 0;  // mean over records
  double ttft_ms = 0;      // mean over records
};

// Aggregates records with fields task, subtask (optional), method, mode,
// `score_field` (default "score"), entry_bytes and ttft_ms (optional). Rows
// come sorted by (method, mode). Scores are in [0, 1].
std::vector<MethodModeScores> AggregateAbilities(const std::vector<nlohmann::json>& records,
                                                 const std::string& score_field = "score");

}  // namespace kvlab

#endif  // KVLAB_SERVICES_EVALUATOR_ABILITIES_H_
