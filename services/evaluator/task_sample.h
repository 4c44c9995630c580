// One session of a shared-context task: a context and its follow-up turns.
#ifndef KVLAB_SERVICES_EVALUATOR_TASK_SAMPLE_H_
#define KVLAB_SERVICES_EVALUATOR_TASK_SAMPLE_H_

#include <string>
#include <vector>

namespace kvlab {

struct TaskTurn {
  std::string input;   // the question of this turn, already formatted
  std::string answer;  // the gold answer
};

struct TaskSample {
  std::string task;     // task name, e.g. "kv"
  std::string id;       // unique within the task
  std::string context;  // the shared context, already formatted
  std::vector<TaskTurn> turns;
  int max_new_tokens = 64;
};

}  // namespace kvlab

#endif  // KVLAB_SERVICES_EVALUATOR_TASK_SAMPLE_H_
