// Summaries of per-turn evaluation records.
#ifndef KVLAB_SERVICES_EVALUATOR_REPORT_H_
#define KVLAB_SERVICES_EVALUATOR_REPORT_H_

#include <string>
#include <vector>

#include "nlohmann/json.hpp"

namespace kvlab {

// A Markdown table: one row per (task, method, mode) with the mean score of
// every turn, the overall mean, the mean KV entry size, compression ratio and
// time to first token. Scores are percentages.
std::string SummaryMarkdown(const std::vector<nlohmann::json>& records);

// The same rows as CSV (header line first).
std::string SummaryCsv(const std::vector<nlohmann::json>& records);

// The SCBench paper's Table 4 layout: one row per (method, mode) with the
// four abilities, their average (AVG) and the task scores, as percentages;
// columns only for abilities/tasks present. `score_field` picks the scorer
// ("score", "score_scbench" or "score_strict").
std::string AbilitiesMarkdown(const std::vector<nlohmann::json>& records, const std::string& score_field = "score");

// The same as CSV (scores in [0, 1]).
std::string AbilitiesCsv(const std::vector<nlohmann::json>& records, const std::string& score_field = "score");

}  // namespace kvlab

#endif  // KVLAB_SERVICES_EVALUATOR_REPORT_H_
