// Training records for kvlab's own model (issue 9): one synthetic sample
// rendered exactly as the cluster feeds it (services/evaluator/prompt_builder),
// with the gold answers marked so a trainer can put its loss on them.
#ifndef KVLAB_TOOLS_TRAINING_RECORDS_H_
#define KVLAB_TOOLS_TRAINING_RECORDS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/tokenizer/chat_template.h"
#include "engine/tokenizer/tokenizer.h"
#include "services/evaluator/task_sample.h"

namespace kvlab {

struct TrainingRecord {
  std::string mode;  // "multi_turn" | "multi_request"
  int turn = -1;     // multi_request: the query's turn; multi_turn: -1 (all)
  std::vector<int32_t> ids;
  // Token spans [begin, end) the model must generate: each answer's tokens
  // plus the end-of-turn token that follows it (so generation stops).
  std::vector<std::pair<int64_t, int64_t>> answer_spans;
  std::string text;  // Decode(ids), special tokens kept
  // Byte spans of `text` matching answer_spans.
  std::vector<std::pair<int64_t, int64_t>> answer_chars;
};

// Multi-turn: one record holding the whole conversation — turn 1 (context +
// question 1), then per turn k>1 the gold answer k-1 and question k, then the
// last gold answer and its end-of-turn token. Multi-request: one record per
// turn — the shared context, query k, gold answer k and end-of-turn token.
// Token pieces come from BuildPrompts, so the ids equal what the evaluator
// feeds. Requires a chat template (the end-of-turn token is the template's).
// INVALID_ARGUMENT when the pieces cannot be split into answer and rest
// (template renderings not incremental) or BuildPrompts fails.
absl::StatusOr<std::vector<TrainingRecord>> BuildTrainingRecords(const TaskSample& sample,
                                                                 const Tokenizer& tokenizer,
                                                                 const ChatTemplate& chat, bool multi_turn,
                                                                 bool multi_request);

}  // namespace kvlab

#endif  // KVLAB_TOOLS_TRAINING_RECORDS_H_
