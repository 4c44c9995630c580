#include "services/evaluator/abilities.h"

#include <tuple>

#include "services/evaluator/scbench_tasks.h"

namespace kvlab {

std::vector<MethodModeScores> AggregateAbilities(const std::vector<nlohmann::json>& records,
                                                 const std::string& score_field) {
  struct Acc {
    // task -> subtask -> (sum, count)
    std::map<std::string, std::map<std::string, std::pair<double, int>>> sums;
    double bytes = 0, ttft = 0;
    int n = 0;
  };
  std::map<std::pair<std::string, std::string>, Acc> accs;
  for (const auto& r : records) {
    Acc& a = accs[{r.value("method", ""), r.value("mode", "")}];
    auto& cell = a.sums[r.value("task", "")][r.value("subtask", "")];
    cell.first += r.value(score_field, 0.0);
    cell.second += 1;
    a.bytes += r.value("entry_bytes", 0.0);
    a.ttft += r.value("ttft_ms", 0.0);
    a.n += 1;
  }
  std::vector<MethodModeScores> out;
  for (const auto& [key, a] : accs) {
    MethodModeScores m;
    m.method = key.first;
    m.mode = key.second;
    m.entry_bytes = a.n ? a.bytes / a.n : 0;
    m.ttft_ms = a.n ? a.ttft / a.n : 0;
    std::map<std::string, std::pair<double, int>> by_ability;
    for (const auto& [task, subs] : a.sums) {
      double sum = 0;
      for (const auto& [sub, cell] : subs) sum += cell.first / cell.second;
      m.tasks[task] = sum / subs.size();
      const ScbenchTaskInfo* info = FindScbenchTask(task);
      if (info == nullptr || info->ability == Ability::kNone) continue;
      auto& ab = by_ability[AbilityName(info->ability)];
      ab.first += m.tasks[task];
      ab.second += 1;
    }
    double total = 0;
    for (const auto& [name, cell] : by_ability) {
      m.abilities[name] = cell.first / cell.second;
      total += m.abilities[name];
    }
    m.avg = by_ability.empty() ? 0 : total / by_ability.size();
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace kvlab
