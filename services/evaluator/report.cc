#include "services/evaluator/report.h"

#include <map>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

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

}  // namespace kvlab
