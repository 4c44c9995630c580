// Turns a task sample into the token pieces the two shared-context modes
// feed (DESIGN §5), with or without the model's chat template.
#ifndef KVLAB_SERVICES_EVALUATOR_PROMPT_BUILDER_H_
#define KVLAB_SERVICES_EVALUATOR_PROMPT_BUILDER_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/tokenizer/chat_template.h"
#include "engine/tokenizer/tokenizer.h"
#include "services/evaluator/task_sample.h"

namespace kvlab {

struct PromptPieces {
  // multi-request: the shared context alone, and per turn the query suffix
  // (question + end of the user message + assistant header).
  std::vector<int32_t> context;
  std::vector<std::vector<int32_t>> queries;
  // multi-turn: turn 1 = context + question 1; turn k > 1 appends the gold
  // answer of turn k-1 and question k (with the template's separators).
  std::vector<int32_t> first_turn;
  std::vector<std::vector<int32_t>> appends;  // appends[k-2] for turn k
  // multi-turn with the model's own answers (kept in the session cache by
  // decode): turn k > 1 appends only what follows the answer — the end of the
  // assistant message (with a template) and question k.
  std::vector<std::vector<int32_t>> appends_model;
};

// Builds the pieces. With a chat template, the context and every question go
// in user messages (context and first question in the first one, separated by
// a blank line; in multi-request mode by sample.query_separator) and the gold
// answers in assistant messages; each piece is the difference between
// consecutive renderings, so concatenated pieces equal the full rendering.
// Multi-turn uses sample.first_turn_context / turns[0].first_input when set.
// Without a template, plain text with the tokenizer's BOS first.
// INVALID_ARGUMENT when the template's renderings are not prefixes of each
// other (cannot be split into incremental pieces).
absl::StatusOr<PromptPieces> BuildPrompts(const TaskSample& sample, const Tokenizer& tokenizer,
                                          const std::optional<ChatTemplate>& chat);

}  // namespace kvlab

#endif  // KVLAB_SERVICES_EVALUATOR_PROMPT_BUILDER_H_
