// Evaluation jobs: which tasks, methods and modes to run (JSON job files).
#ifndef KVLAB_SERVICES_EVALUATOR_JOB_SPEC_H_
#define KVLAB_SERVICES_EVALUATOR_JOB_SPEC_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace kvlab {

struct TaskSpec {
  std::string task = "kv";
  int sessions = 4;
  int turns = 5;
  int64_t context_tokens = 1024;
};

enum class SharedContextMode { kMultiTurn, kMultiRequest };
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

  nlohmann::json ToJson() const;
};

// Parses a job document:
//   {"name": "...", "seed": 1, "tasks": [{"task": "kv", "sessions": 4, "turns": 5,
//    "context_tokens": 1024}], "methods": ["prefill=dense;kv=full"],
//    "modes": ["multi_turn", "multi_request"], "chat_template": true,
//    "concurrency": 1, "max_new_tokens": 0}
// Methods are validated and canonicalized. INVALID_ARGUMENT naming the field.
absl::StatusOr<JobSpec> ParseJobSpec(const nlohmann::json& doc);

}  // namespace kvlab

#endif  // KVLAB_SERVICES_EVALUATOR_JOB_SPEC_H_
