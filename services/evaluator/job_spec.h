// Evaluation jobs: which tasks, methods and modes to run (JSON job files).
#ifndef KVLAB_SERVICES_EVALUATOR_JOB_SPEC_H_
#define KVLAB_SERVICES_EVALUATOR_JOB_SPEC_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "services/evaluator/scbench_scorers.h"

namespace kvlab {

struct TaskSpec {
  std::string task = "kv";
  // An upstream SCBench file (scbench_<task>.jsonl); empty = generate.
  std::string file;
  int sessions = 4;  // synthetic: samples to generate; file: the first N records
  int turns = 5;     // synthetic: questions per sample; file: keep the first N (0 = all)
  int64_t context_tokens = 1024;  // synthetic only
  std::string source_dir;         // repoqa_and_kv: code haystack (empty = $KVLAB_SOURCE_DIR)
};

// multi_turn: gold answers fed back; multi_turn_model: the model's own
// answers stay in the session cache (decode keep_generated); multi_request:
// every query against the stored context entry.
enum class SharedContextMode { kMultiTurn, kMultiRequest, kMultiTurnModel };
const char* ModeName(SharedContextMode mode);

struct JobSpec {
  std::string name = "job";
  uint64_t seed = 1;
  std::vector<TaskSpec> tasks;
  std::vector<std::string> methods;  // canonical method specs
  std::vector<SharedContextMode> modes;
  bool chat_template = true;
  int concurrency = 1;
  int max_new_tokens = 0;  // 0 = the task's default
  ScorerVariant scorer = ScorerVariant::kScbench;  // which score is "score"

  nlohmann::json ToJson() const;
};

// Parses a job document:
//   {"name": "...", "seed": 1,
//    "tasks": [{"task": "kv", "sessions": 4, "turns": 5, "context_tokens": 1024},
//              {"task": "qa_eng", "file": "data/scbench_qa_eng.jsonl", "sessions": 10},
//              {"task": "repoqa_and_kv", "source_dir": "/src/kvlab"}],
//    "methods": ["prefill=dense;kv=full"],
//    "modes": ["multi_turn", "multi_turn_model", "multi_request"],
//    "scorer": "scbench" | "strict", "chat_template": true,
//    "concurrency": 1, "max_new_tokens": 0}
// A task without "file" must have a generator (synthetic_tasks.h). Methods
// are validated and canonicalized. INVALID_ARGUMENT naming the field.
absl::StatusOr<JobSpec> ParseJobSpec(const nlohmann::json& doc);

}  // namespace kvlab

#endif  // KVLAB_SERVICES_EVALUATOR_JOB_SPEC_H_
