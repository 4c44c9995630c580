#include "services/evaluator/scbench_tasks.h"

namespace kvlab {

const char* AbilityName(Ability ability) {
  switch (ability) {
    case Ability::kStringRetrieval:
      return "String Retrieval";
    case Ability::kSemanticRetrieval:
      return "Semantic Retrieval";
    case Ability::kGlobalInformation:
      return "Global Information";
    case Ability::kMultiTask:
      return "Multi-task";
    case Ability::kNone:
      break;
  }
  return "";
}

const std::vector<ScbenchTaskInfo>& ScbenchTasks() {
  // Abilities: SCBench paper (arXiv 2412.10319) §3 / Table 4. Generation
  // lengths: scbench/eval_utils.py DATA_NAME_TO_MAX_NEW_TOKENS (MInference).
  static const auto* tasks = new std::vector<ScbenchTaskInfo>{
      {"kv", "Retr.KV", Ability::kStringRetrieval, 150, true},
      {"prefix_suffix", "Retr.Prefix-Suffix", Ability::kStringRetrieval, 150, true},
      {"vt", "Retr.MultiHop", Ability::kStringRetrieval, 30, true},
      {"repoqa", "Code.RepoQA", Ability::kSemanticRetrieval, 1024, false},
      {"qa_eng", "En.QA", Ability::kSemanticRetrieval, 40, false},
      {"qa_chn", "Zh.QA", Ability::kSemanticRetrieval, 40, false},
      {"choice_eng", "En.MultiChoice", Ability::kSemanticRetrieval, 40, false},
      {"mf", "Math.Find", Ability::kGlobalInformation, 5, true},
      {"many_shot", "ICL.ManyShot", Ability::kGlobalInformation, 10, false},
      {"summary", "En.Sum", Ability::kGlobalInformation, 200, false},
      {"summary_with_needles", "Mix.Sum+NIAH", Ability::kMultiTask, 800, true},
      {"repoqa_and_kv", "Mix.RepoQA+KV", Ability::kMultiTask, 1024, true},
      {"passkey", "Retr.Passkey", Ability::kNone, 15, true},
  };
  return *tasks;
}

const ScbenchTaskInfo* FindScbenchTask(const std::string& name) {
  for (const ScbenchTaskInfo& t : ScbenchTasks()) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

int ScbenchMaxNewTokens(const std::string& task, const std::string& subtask) {
  if (task == "summary_with_needles") {
    if (subtask == "summary") return 800;
    if (subtask == "passkey") return 15;
  }
  if (task == "repoqa_and_kv") {
    if (subtask == "repoqa") return 1024;
    if (subtask == "kv") return 80;
  }
  const ScbenchTaskInfo* info = FindScbenchTask(subtask.empty() ? task : subtask);
  return info ? info->max_new_tokens : 0;
}

}  // namespace kvlab
