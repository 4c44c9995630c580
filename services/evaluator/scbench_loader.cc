#include "services/evaluator/scbench_loader.h"

#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "services/evaluator/scbench_prompts.h"
#include "services/evaluator/scbench_tasks.h"

namespace kvlab {
namespace {

using nlohmann::json;

absl::Status Bad(const std::string& field, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

bool IsStringList(const json& v) {
  if (!v.is_array()) return false;
  for (const json& e : v) {
    if (!e.is_string()) return false;
  }
  return true;
}

absl::Status CheckAnswer(const std::string& task, const json& answer, const std::string& field) {
  if (task == "mf") {
    if (answer.is_number()) return absl::OkStatus();
    if (answer.is_array() && answer.size() == 1 && answer[0].is_number()) return absl::OkStatus();
    return Bad(field, "must be a number (or a list of one number) for mf");
  }
  if (answer.is_string() || IsStringList(answer)) return absl::OkStatus();
  if (answer.is_number_integer()) return absl::OkStatus();  // passkey-like integer answers
  return Bad(field, "must be a string or a list of strings");
}

// "scbench_summary" -> "summary"; checks the sub-task belongs to `task`.
absl::StatusOr<std::string> Subtask(const std::string& task, const json& turn, const std::string& field) {
  if (!turn.contains("task") || !turn["task"].is_string()) return Bad(field, "must name the turn's sub-task");
  std::string sub = turn["task"].get<std::string>();
  if (absl::StartsWith(sub, "scbench_")) sub = sub.substr(8);
  const bool ok = task == "summary_with_needles" ? (sub == "summary" || sub == "passkey")
                                                 : (sub == "repoqa" || sub == "kv");
  if (!ok) return Bad(field, absl::StrCat("'", turn["task"].get<std::string>(), "' is not a sub-task of ", task));
  return sub;
}

}  // namespace

absl::StatusOr<TaskSample> ParseScbenchRecord(const json& record, const std::string& task) {
  const ScbenchTaskInfo* info = FindScbenchTask(task);
  if (info == nullptr) return Bad("task", absl::StrCat("'", task, "' is not an SCBench task"));
  if (!record.is_object()) return Bad("record", "must be a JSON object");
  TaskSample s;
  s.task = task;
  if (!record.contains("id")) return Bad("id", "is missing");
  if (record["id"].is_string()) {
    s.id = absl::StrCat(task, "-", record["id"].get<std::string>());
  } else if (record["id"].is_number_integer()) {
    s.id = absl::StrCat(task, "-", record["id"].get<int64_t>());
  } else {
    return Bad("id", "must be a string or an integer");
  }
  if (!record.contains("context")) return Bad("context", "is missing");
  const json& context = record["context"];
  if (context.is_string()) {
    s.context = context.get<std::string>();
  } else if (task == "mf" && context.is_array()) {
    for (const json& v : context) {
      if (!v.is_number()) return Bad("context", "must be a list of numbers");
    }
    s.context = PythonStr(context);  // the harness formats the list with str()
  } else {
    return Bad("context", task == "mf" ? "must be a string or a list of numbers" : "must be a string");
  }
  if (task == "repoqa" || task == "repoqa_and_kv") {
    for (const char* key : {"lang", "repo"}) {
      if (!record.contains(key) || !record[key].is_string()) return Bad(key, "must be a string");
    }
    s.lang = record["lang"].get<std::string>();
    s.repo = record["repo"].get<std::string>();
  }
  if (!record.contains("multi_turns") || !record["multi_turns"].is_array() || record["multi_turns"].empty()) {
    return Bad("multi_turns", "must be a non-empty list");
  }
  const json& turns = record["multi_turns"];
  for (size_t i = 0; i < turns.size(); ++i) {
    const std::string f = absl::StrCat("multi_turns[", i, "]");
    const json& t = turns[i];
    if (!t.is_object()) return Bad(f, "must be an object");
    TaskTurn turn;
    if (!t.contains("input") || !t["input"].is_string()) return Bad(f + ".input", "must be a string");
    turn.input = t["input"].get<std::string>();
    if (!t.contains("answer")) return Bad(f + ".answer", "is missing");
    KVLAB_RETURN_IF_ERROR(CheckAnswer(task, t["answer"], f + ".answer"));
    turn.label = t["answer"];
    if (task == "summary_with_needles" || task == "repoqa_and_kv") {
      KVLAB_ASSIGN_OR_RETURN(turn.task, Subtask(task, t, f + ".task"));
    }
    if (task == "choice_eng") {
      if (!t.contains("options") || !IsStringList(t["options"]) || t["options"].size() != 4) {
        return Bad(f + ".options", "must be a list of 4 strings");
      }
      turn.options = t["options"].get<std::vector<std::string>>();
      if (!t["answer"].is_string() ||
          std::find(turn.options.begin(), turn.options.end(), t["answer"].get<std::string>()) ==
              turn.options.end()) {
        return Bad(f + ".answer", "must be the text of one of the options");
      }
    }
    if (task == "repoqa" || (task == "repoqa_and_kv" && turn.task == "repoqa")) {
      if (!t.contains("name") || !t["name"].is_string()) return Bad(f + ".name", "must be the function's name");
      turn.name = t["name"].get<std::string>();
    }
    if (task == "mf" && turn.input.find("The ") == std::string::npos) {
      return Bad(f + ".input", "must hold \"The ... is\" (the harness derives the question from it)");
    }
    s.turns.push_back(std::move(turn));
  }
  KVLAB_RETURN_IF_ERROR(ApplyScbenchTemplates(s));
  return s;
}

absl::StatusOr<std::vector<TaskSample>> LoadScbenchFile(const std::string& path, const std::string& task,
                                                        const ScbenchLoadOptions& options) {
  if (FindScbenchTask(task) == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": '", task, "' is not an SCBench task"));
  }
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open SCBench file '", path, "'"));
  std::vector<TaskSample> samples;
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r\n") == std::string::npos) continue;
    if (options.max_samples > 0 && static_cast<int>(samples.size()) >= options.max_samples) break;
    json record = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (record.is_discarded()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", number, ": record: not valid JSON"));
    }
    if (options.max_turns > 0 && record.is_object() && record.contains("multi_turns") &&
        record["multi_turns"].is_array() && static_cast<int>(record["multi_turns"].size()) > options.max_turns) {
      record["multi_turns"].erase(record["multi_turns"].begin() + options.max_turns, record["multi_turns"].end());
    }
    auto sample = ParseScbenchRecord(record, task);
    if (!sample.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", number, ": ", sample.status().message()));
    }
    samples.push_back(std::move(*sample));
  }
  if (samples.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no records"));
  return samples;
}

std::string ScbenchTaskFromFileName(const std::string& path) {
  std::string stem = std::filesystem::path(path).stem().string();
  for (const char* prefix : {"scbench_", "multi_turn_"}) {
    if (absl::StartsWith(stem, prefix)) stem = stem.substr(std::string(prefix).size());
  }
  return FindScbenchTask(stem) ? stem : "";
}

}  // namespace kvlab
