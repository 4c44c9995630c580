#include "services/evaluator/job_spec.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "kvcache/method_spec.h"
#include "services/evaluator/scbench_tasks.h"
#include "services/evaluator/synthetic_tasks.h"

namespace kvlab {
namespace {

using nlohmann::json;

absl::Status Bad(const std::string& field, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("job field '", field, "' ", what));
}

absl::StatusOr<int64_t> PositiveInt(const json& obj, const std::string& key, const std::string& field,
                                    int64_t fallback, int64_t max) {
  if (!obj.contains(key)) return fallback;
  if (!obj[key].is_number_integer()) return Bad(field, "must be an integer");
  int64_t v = obj[key].get<int64_t>();
  if (v < 1 || v > max) return Bad(field, absl::StrCat("must be in [1, ", max, "]"));
  return v;
}

}  // namespace

const char* ModeName(SharedContextMode mode) {
  switch (mode) {
    case SharedContextMode::kMultiTurn:
      return "multi_turn";
    case SharedContextMode::kMultiTurnModel:
      return "multi_turn_model";
    case SharedContextMode::kMultiRequest:
      break;
  }
  return "multi_request";
}

absl::StatusOr<JobSpec> ParseJobSpec(const json& doc) {
  if (!doc.is_object()) return absl::InvalidArgumentError("job must be a JSON object");
  static const char* kKnown[] = {"name", "seed", "tasks", "methods", "modes", "chat_template", "concurrency",
                                 "max_new_tokens", "model", "scorer"};
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    if (std::find_if(std::begin(kKnown), std::end(kKnown), [&](const char* k) { return it.key() == k; }) ==
        std::end(kKnown)) {
      return Bad(it.key(), "is not a job field");
    }
  }
  JobSpec job;
  if (doc.contains("name")) {
    if (!doc["name"].is_string() || doc["name"].get<std::string>().empty()) return Bad("name", "must be a string");
    job.name = doc["name"].get<std::string>();
    for (char c : job.name) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
        return Bad("name", "may hold only letters, digits, '-' and '_'");
      }
    }
  }
  if (doc.contains("seed")) {
    if (!doc["seed"].is_number_unsigned()) return Bad("seed", "must be a non-negative integer");
    job.seed = doc["seed"].get<uint64_t>();
  }
  if (!doc.contains("tasks") || !doc["tasks"].is_array() || doc["tasks"].empty()) {
    return Bad("tasks", "must be a non-empty list");
  }
  for (size_t i = 0; i < doc["tasks"].size(); ++i) {
    const json& t = doc["tasks"][i];
    const std::string f = absl::StrCat("tasks[", i, "]");
    if (!t.is_object()) return Bad(f, "must be an object");
    TaskSpec task;
    if (!t.contains("task") || !t["task"].is_string()) return Bad(f + ".task", "must be a task name");
    task.task = t["task"].get<std::string>();
    for (auto it = t.begin(); it != t.end(); ++it) {
      static const char* kTaskKeys[] = {"task", "file", "sessions", "turns", "context_tokens", "source_dir"};
      if (std::find_if(std::begin(kTaskKeys), std::end(kTaskKeys), [&](const char* k) { return it.key() == k; }) ==
          std::end(kTaskKeys)) {
        return Bad(f + "." + it.key(), "is not a task field");
      }
    }
    if (FindScbenchTask(task.task) == nullptr) {
      std::string known;
      for (const ScbenchTaskInfo& info : ScbenchTasks()) absl::StrAppend(&known, known.empty() ? "" : ", ", info.name);
      return Bad(f + ".task", absl::StrCat("'", task.task, "' is not a known task (known: ", known, ")"));
    }
    for (const char* key : {"file", "source_dir"}) {
      if (!t.contains(key)) continue;
      if (!t[key].is_string() || t[key].get<std::string>().empty()) return Bad(f + "." + key, "must be a path");
    }
    if (t.contains("file")) task.file = t["file"].get<std::string>();
    if (t.contains("source_dir")) task.source_dir = t["source_dir"].get<std::string>();
    if (task.file.empty() && !IsSyntheticTask(task.task)) {
      return Bad(f + ".file", absl::StrCat("is required: '", task.task, "' has no synthetic generator"));
    }
    KVLAB_ASSIGN_OR_RETURN(int64_t sessions, PositiveInt(t, "sessions", f + ".sessions", 4, 100000));
    KVLAB_ASSIGN_OR_RETURN(int64_t turns, PositiveInt(t, "turns", f + ".turns", task.file.empty() ? 5 : 0, 1000));
    KVLAB_ASSIGN_OR_RETURN(task.context_tokens,
                           PositiveInt(t, "context_tokens", f + ".context_tokens", 1024, 1 << 20));
    task.sessions = static_cast<int>(sessions);
    task.turns = static_cast<int>(turns);
    job.tasks.push_back(task);
  }
  if (!doc.contains("methods")) {
    job.methods.push_back(MethodSpec().Canonical());
  } else {
    if (!doc["methods"].is_array() || doc["methods"].empty()) return Bad("methods", "must be a non-empty list");
    for (size_t i = 0; i < doc["methods"].size(); ++i) {
      const std::string f = absl::StrCat("methods[", i, "]");
      if (!doc["methods"][i].is_string()) return Bad(f, "must be a method spec string");
      auto spec = ParseMethodSpec(doc["methods"][i].get<std::string>());
      if (!spec.ok()) return Bad(f, std::string(spec.status().message()));
      job.methods.push_back(spec->Canonical());
    }
  }
  if (!doc.contains("modes")) {
    job.modes = {SharedContextMode::kMultiTurn, SharedContextMode::kMultiRequest};
  } else {
    if (!doc["modes"].is_array() || doc["modes"].empty()) return Bad("modes", "must be a non-empty list");
    for (const json& m : doc["modes"]) {
      if (m == "multi_turn") {
        job.modes.push_back(SharedContextMode::kMultiTurn);
      } else if (m == "multi_turn_model") {
        job.modes.push_back(SharedContextMode::kMultiTurnModel);
      } else if (m == "multi_request") {
        job.modes.push_back(SharedContextMode::kMultiRequest);
      } else {
        return Bad("modes", "entries must be \"multi_turn\", \"multi_turn_model\" or \"multi_request\"");
      }
    }
  }
  if (doc.contains("scorer")) {
    if (!doc["scorer"].is_string()) return Bad("scorer", "must be \"scbench\" or \"strict\"");
    auto v = ParseScorerVariant(doc["scorer"].get<std::string>());
    if (!v.ok()) return Bad("scorer", "must be \"scbench\" or \"strict\"");
    job.scorer = *v;
  }
  if (doc.contains("chat_template")) {
    if (!doc["chat_template"].is_boolean()) return Bad("chat_template", "must be true or false");
    job.chat_template = doc["chat_template"].get<bool>();
  }
  KVLAB_ASSIGN_OR_RETURN(int64_t conc, PositiveInt(doc, "concurrency", "concurrency", 1, 256));
  job.concurrency = static_cast<int>(conc);
  if (doc.contains("max_new_tokens")) {
    KVLAB_ASSIGN_OR_RETURN(int64_t m, PositiveInt(doc, "max_new_tokens", "max_new_tokens", 0, 4096));
    job.max_new_tokens = static_cast<int>(m);
  }
  return job;
}

nlohmann::json JobSpec::ToJson() const {
  json j;
  j["name"] = name;
  j["seed"] = seed;
  for (const TaskSpec& t : tasks) {
    json task = {{"task", t.task}, {"sessions", t.sessions}};
    if (t.turns > 0) task["turns"] = t.turns;
    if (t.file.empty()) {
      task["context_tokens"] = t.context_tokens;
    } else {
      task["file"] = t.file;
    }
    if (!t.source_dir.empty()) task["source_dir"] = t.source_dir;
    j["tasks"].push_back(task);
  }
  j["methods"] = methods;
  for (SharedContextMode m : modes) j["modes"].push_back(ModeName(m));
  j["chat_template"] = chat_template;
  if (scorer != ScorerVariant::kScbench) j["scorer"] = ScorerVariantName(scorer);
  j["concurrency"] = concurrency;
  if (max_new_tokens > 0) j["max_new_tokens"] = max_new_tokens;
  return j;
}

}  // namespace kvlab
