#include "services/evaluator/report.h"

#include <map>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "services/evaluator/abilities.h"
#include "services/evaluator/scbench_tasks.h"

namespace kvlab {
namespace {

struct Row {
  std::map<int, std::pair<double, int>> turns;  // turn -> (score sum, count)
  double score = 0, bytes = 0, ratio = 0, ttft = 0;
  int n = 0;
};

using Key = std::tuple<std::string, std::string, std::string>;  // task, method, mode

std::map<Key, Row> Aggregate(const std::vector<nlohmann::json>& records, int* max_turn) {
  std::map<Key, Row> rows;
  *max_turn = 0;
  for (const auto& r : records) {
    Row& row = rows[{r["task"], r["method"], r["mode"]}];
    const int turn = r["turn"].get<int>();
    *max_turn = std::max(*max_turn, turn);
    row.turns[turn].first += r["score"].get<double>();
    row.turns[turn].second += 1;
    row.score += r["score"].get<double>();
    row.bytes += r["entry_bytes"].get<double>();
    row.ratio += r["compression_ratio"].get<double>();
    row.ttft += r["ttft_ms"].get<double>();
    row.n += 1;
  }
  return rows;
}

}  // namespace

std::string SummaryMarkdown(const std::vector<nlohmann::json>& records) {
  int max_turn = 0;
  auto rows = Aggregate(records, &max_turn);
  std::string out = "| task | method | mode |";
  std::string rule = "|---|---|---|";
  for (int t = 1; t <= max_turn; ++t) {
    absl::StrAppend(&out, " T", t, " |");
    rule += "---:|";
  }
  out += " avg | entry MiB | ratio | TTFT ms |\n";
  rule += "---:|---:|---:|---:|\n";
  out += rule;
  for (const auto& [key, row] : rows) {
    absl::StrAppend(&out, "| ", std::get<0>(key), " | `", std::get<1>(key), "` | ", std::get<2>(key), " |");
    for (int t = 1; t <= max_turn; ++t) {
      auto it = row.turns.find(t);
      if (it == row.turns.end()) {
        out += " – |";
      } else {
        absl::StrAppend(&out, absl::StrFormat(" %.1f |", 100.0 * it->second.first / it->second.second));
      }
    }
    absl::StrAppend(&out, absl::StrFormat(" %.1f | %.2f | %.2f | %.1f |\n", 100.0 * row.score / row.n,
                                          row.bytes / row.n / (1 << 20), row.ratio / row.n, row.ttft / row.n));
  }
  int64_t recomputed = 0, sessions_turn1 = 0;
  for (const nlohmann::json& r : records) {
    if (r.value("turn", 0) != 1) continue;
    ++sessions_turn1;
    if (auto it = r.find("recomputed_entries"); it != r.end() && it->is_number_integer()) recomputed += it->get<int64_t>();
  }
  if (recomputed > 0) {
    absl::StrAppend(&out, "\nEntries recomputed after corruption or loss: ", recomputed, " of ", sessions_turn1,
                    " sessions.\n");
  }
  return out;
}

std::string SummaryCsv(const std::vector<nlohmann::json>& records) {
  int max_turn = 0;
  auto rows = Aggregate(records, &max_turn);
  std::string out = "task,method,mode";
  for (int t = 1; t <= max_turn; ++t) absl::StrAppend(&out, ",turn", t);
  out += ",avg,entry_bytes,compression_ratio,ttft_ms\n";
  for (const auto& [key, row] : rows) {
    absl::StrAppend(&out, std::get<0>(key), ",\"", std::get<1>(key), "\",", std::get<2>(key));
    for (int t = 1; t <= max_turn; ++t) {
      auto it = row.turns.find(t);
      out += it == row.turns.end() ? "," : absl::StrFormat(",%.4f", it->second.first / it->second.second);
    }
    absl::StrAppend(&out, absl::StrFormat(",%.4f,%.0f,%.4f,%.2f\n", row.score / row.n, row.bytes / row.n,
                                          row.ratio / row.n, row.ttft / row.n));
  }
  return out;
}

namespace {

// Abilities and tasks present in `rows`, in the paper's order.
void Columns(const std::vector<MethodModeScores>& rows, std::vector<std::string>* abilities,
             std::vector<std::string>* tasks) {
  for (Ability a : {Ability::kStringRetrieval, Ability::kSemanticRetrieval, Ability::kGlobalInformation,
                    Ability::kMultiTask}) {
    for (const auto& r : rows) {
      if (r.abilities.count(AbilityName(a))) {
        abilities->push_back(AbilityName(a));
        break;
      }
    }
  }
  for (const ScbenchTaskInfo& t : ScbenchTasks()) {
    for (const auto& r : rows) {
      if (r.tasks.count(t.name)) {
        tasks->push_back(t.name);
        break;
      }
    }
  }
}

std::string Cell(const std::map<std::string, double>& m, const std::string& key, double scale, const char* fmt) {
  auto it = m.find(key);
  return it == m.end() ? "" : absl::StrFormat(fmt, it->second * scale);
}

}  // namespace

std::string AbilitiesMarkdown(const std::vector<nlohmann::json>& records, const std::string& score_field) {
  const auto rows = AggregateAbilities(records, score_field);
  std::vector<std::string> abilities, tasks;
  Columns(rows, &abilities, &tasks);
  std::string out = "| method | mode |", rule = "|---|---|";
  for (const auto& a : abilities) {
    absl::StrAppend(&out, " ", a, " |");
    rule += "---:|";
  }
  out += " AVG |";
  rule += "---:|";
  for (const auto& t : tasks) {
    absl::StrAppend(&out, " ", FindScbenchTask(t)->paper_name, " |");
    rule += "---:|";
  }
  absl::StrAppend(&out, "\n", rule, "\n");
  for (const auto& r : rows) {
    absl::StrAppend(&out, "| `", r.method, "` | ", r.mode, " |");
    for (const auto& a : abilities) absl::StrAppend(&out, " ", Cell(r.abilities, a, 100, "%.1f"), " |");
    absl::StrAppend(&out, absl::StrFormat(" %.1f |", 100 * r.avg));
    for (const auto& t : tasks) absl::StrAppend(&out, " ", Cell(r.tasks, t, 100, "%.1f"), " |");
    out += "\n";
  }
  return out;
}

std::string AbilitiesCsv(const std::vector<nlohmann::json>& records, const std::string& score_field) {
  const auto rows = AggregateAbilities(records, score_field);
  std::vector<std::string> abilities, tasks;
  Columns(rows, &abilities, &tasks);
  std::string out = "method,mode";
  for (const auto& a : abilities) absl::StrAppend(&out, ",", a);
  out += ",AVG";
  for (const auto& t : tasks) absl::StrAppend(&out, ",", t);
  out += "\n";
  for (const auto& r : rows) {
    absl::StrAppend(&out, "\"", r.method, "\",", r.mode);
    for (const auto& a : abilities) absl::StrAppend(&out, ",", Cell(r.abilities, a, 1, "%.4f"));
    absl::StrAppend(&out, absl::StrFormat(",%.4f", r.avg));
    for (const auto& t : tasks) absl::StrAppend(&out, ",", Cell(r.tasks, t, 1, "%.4f"));
    out += "\n";
  }
  return out;
}

}  // namespace kvlab
