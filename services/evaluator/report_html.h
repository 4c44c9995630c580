// A self-contained HTML report (inline SVG charts, no scripts or external
// resources): score per turn for each method, score vs budget grouped by KV
// policy, and score vs KV entry bytes, plus the abilities table.
#ifndef KVLAB_SERVICES_EVALUATOR_REPORT_HTML_H_
#define KVLAB_SERVICES_EVALUATOR_REPORT_HTML_H_

#include <optional>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"

namespace kvlab {

// The KV policy of a canonical method spec ("snapkv" for
// "prefill=dense;kv=snapkv{...};..."), "full" when none is named.
std::string MethodPolicy(const std::string& method);

// The method's KV budget: capacity= (tokens), else ratio=, else
// n_sink + n_recent (streamingllm), else heavy + recent (h2o), else bits=
// (quantizers); nullopt for full KV.
std::optional<double> MethodBudget(const std::string& method);

// Renders the report for `records` (fields as results.jsonl). `title` is
// HTML-escaped. Every chart is an <svg> with at least one <path> or <circle>
// per series.
std::string ReportHtml(const std::string& title, const std::vector<nlohmann::json>& records);

}  // namespace kvlab

#endif  // KVLAB_SERVICES_EVALUATOR_REPORT_HTML_H_
