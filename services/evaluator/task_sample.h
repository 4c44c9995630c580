// One session of a shared-context task: a context and its follow-up turns.
#ifndef KVLAB_SERVICES_EVALUATOR_TASK_SAMPLE_H_
#define KVLAB_SERVICES_EVALUATOR_TASK_SAMPLE_H_

#include <string>
#include <vector>

#include "nlohmann/json.hpp"

namespace kvlab {

struct TaskTurn {
  // The question as sent in multi-request mode and as a multi-turn follow-up,
  // already formatted with the task's template.
  std::string input;
  // The question of turn 1 in multi-turn mode when it differs (Math.Find);
  // empty = `input`.
  std::string first_input;
  // The gold answer as fed back in multi-turn mode (what the SCBench harness
  // puts in the assistant message: str(answer)).
  std::string answer;
  // What the scorers compare against, as in the upstream record (a string, a
  // list of strings or a number). Null = `answer`.
  nlohmann::json label;
  // The sub-task of a turn of a mixed task ("summary", "passkey", "repoqa",
  // "kv"); empty = the sample's task.
  std::string task;
  std::string name;                  // RepoQA: the function's name
  std::vector<std::string> options;  // En.MultiChoice: the four options
  int max_new_tokens = 0;            // 0 = the sample's
};

struct TaskSample {
  std::string task;     // task name, e.g. "kv"
  std::string id;       // unique within the task
  std::string context;  // the shared context (multi-request), already formatted
  // The context of turn 1 in multi-turn mode when it differs (Math.Find puts
  // the first question's prefix before it); empty = `context`.
  std::string first_turn_context;
  // Between the shared context and a query in multi-request mode. The SCBench
  // harness joins them directly; multi-turn always uses a blank line.
  std::string query_separator = "\n\n";
  std::vector<TaskTurn> turns;
  int max_new_tokens = 64;
  std::string lang;  // RepoQA: programming language
  std::string repo;  // RepoQA: repository name
};

}  // namespace kvlab

#endif  // KVLAB_SERVICES_EVALUATOR_TASK_SAMPLE_H_
