// Reads the upstream SCBench data files (scbench_<task>.jsonl from the
// Hugging Face dataset microsoft/SCBench) into formatted task samples.
#ifndef KVLAB_SERVICES_EVALUATOR_SCBENCH_LOADER_H_
#define KVLAB_SERVICES_EVALUATOR_SCBENCH_LOADER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "services/evaluator/task_sample.h"

namespace kvlab {

struct ScbenchLoadOptions {
  int max_samples = 0;  // the first N records; 0 = all
  int max_turns = 0;    // keep the first N turns of each (the harness's --max_turns); 0 = all
};

// Parses one record of `task` ({"id", "context", "multi_turns": [{"input",
// "answer", ...}], ...} with the task's extras: per-turn "options"
// (choice_eng), "name" (repoqa), "task" (the two Mix tasks); "lang"/"repo"
// (repoqa, repoqa_and_kv); an integer-array context (mf); list answers (vt))
// and applies the SCBench templates. Fields the task does not use are
// ignored. INVALID_ARGUMENT naming the offending field, e.g.
// "multi_turns[2].options: must be a list of 4 strings".
absl::StatusOr<TaskSample> ParseScbenchRecord(const nlohmann::json& record, const std::string& task);

// Reads a jsonl file of `task` (blank lines skipped). NOT_FOUND when the file
// cannot be opened; INVALID_ARGUMENT "<path>:<line>: <field>: <problem>" for
// a line that is not JSON or a malformed record, or for an unknown task.
absl::StatusOr<std::vector<TaskSample>> LoadScbenchFile(const std::string& path, const std::string& task,
                                                        const ScbenchLoadOptions& options);

// The task a file holds by its name: ".../scbench_qa_eng.jsonl" -> "qa_eng"
// (also "multi_turn_qa_eng.jsonl"); empty when the name says nothing.
std::string ScbenchTaskFromFileName(const std::string& path);

}  // namespace kvlab

#endif  // KVLAB_SERVICES_EVALUATOR_SCBENCH_LOADER_H_
