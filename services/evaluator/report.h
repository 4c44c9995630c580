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

}  // namespace kvlab

#endif  // KVLAB_SERVICES_EVALUATOR_REPORT_H_
