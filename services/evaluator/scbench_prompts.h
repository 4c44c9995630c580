// SCBench prompt templates: turn a raw task sample (context and questions as
// in the upstream jsonl record) into the formatted prompts of both modes.
#ifndef KVLAB_SERVICES_EVALUATOR_SCBENCH_PROMPTS_H_
#define KVLAB_SERVICES_EVALUATOR_SCBENCH_PROMPTS_H_

#include <string>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"
#include "services/evaluator/task_sample.h"

namespace kvlab {

// Formats `sample` in place, following scbench/eval_utils.py (MInference):
// the instruction before the context (multiturn_templates_scdq), each question
// (multiturn_follow_up_templates_in_chat_tempate; En.MultiChoice gets its four
// options, Math.Find its "What is ...?" prefix), the gold answer text fed back
// in multi-turn mode (str(answer)), per-turn max_new_tokens, and no separator
// between context and query in multi-request mode. On input the sample holds
// the raw record: `context`, and per turn `input`, `label`, `options`,
// `task`. INVALID_ARGUMENT when a turn lacks what its template needs (four
// options; a Math.Find question without "The ... is").
absl::Status ApplyScbenchTemplates(TaskSample& sample);

// What Python's str() prints for a JSON scalar or list of scalars (strings
// unquoted at top level, lists as ['a', 'b'] / [1, 2]); the harness feeds
// gold answers back through str().
std::string PythonStr(const nlohmann::json& value);

}  // namespace kvlab

#endif  // KVLAB_SERVICES_EVALUATOR_SCBENCH_PROMPTS_H_
