// The SCBench task registry: names, the ability each task measures, the
// paper's names and the harness's per-task generation lengths.
#ifndef KVLAB_SERVICES_EVALUATOR_SCBENCH_TASKS_H_
#define KVLAB_SERVICES_EVALUATOR_SCBENCH_TASKS_H_

#include <string>
#include <vector>

namespace kvlab {

// The four abilities of the SCBench paper (Table 4); kNone for tasks outside
// them (the standalone passkey task).
enum class Ability { kStringRetrieval, kSemanticRetrieval, kGlobalInformation, kMultiTask, kNone };

// "String Retrieval", "Semantic Retrieval", "Global Information", "Multi-task", "".
const char* AbilityName(Ability ability);

struct ScbenchTaskInfo {
  std::string name;        // kvlab / file name without "scbench_", e.g. "qa_eng"
  std::string paper_name;  // e.g. "En.QA"
  Ability ability = Ability::kNone;
  int max_new_tokens = 0;  // the harness's DATA_NAME_TO_MAX_NEW_TOKENS
  bool synthetic = false;  // kvlab can generate it
};

// Every task, in the paper's order (then passkey). The list is static.
const std::vector<ScbenchTaskInfo>& ScbenchTasks();

// The task named `name`, or nullptr.
const ScbenchTaskInfo* FindScbenchTask(const std::string& name);

// max_new_tokens of a turn: the mixed tasks give each sub-task its own
// (summary_with_needles: summary 800, passkey 15; repoqa_and_kv: repoqa 1024,
// kv 80); otherwise the task's. 0 for an unknown task.
int ScbenchMaxNewTokens(const std::string& task, const std::string& subtask);

}  // namespace kvlab

#endif  // KVLAB_SERVICES_EVALUATOR_SCBENCH_TASKS_H_
