#include "services/evaluator/prompt_builder.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "common/status_macros.h"

namespace kvlab {
namespace {

// A marker that no tokenizer or template rewrites and no task text contains.
constexpr char kSplit[] = "\x1f<kvlab-split>\x1f";

absl::StatusOr<std::vector<int32_t>> Encode(const Tokenizer& tok, const std::string& text, bool bos) {
  return tok.Encode(text, bos);
}

// `longer` must start with `prefix`; returns the rest.
absl::StatusOr<std::string> Rest(const std::string& longer, const std::string& prefix) {
  if (!absl::StartsWith(longer, prefix)) {
    return absl::InvalidArgumentError("chat template renderings are not incremental; cannot split the prompt");
  }
  return longer.substr(prefix.size());
}

}  // namespace

absl::StatusOr<PromptPieces> BuildPrompts(const TaskSample& sample, const Tokenizer& tokenizer,
                                          const std::optional<ChatTemplate>& chat) {
  if (sample.turns.empty()) return absl::InvalidArgumentError("task sample has no turns");
  PromptPieces p;
  const std::string sep = "\n\n";
  const std::string& qsep = sample.query_separator;
  const std::string& mt_context = sample.first_turn_context.empty() ? sample.context : sample.first_turn_context;
  const std::string& first_input =
      sample.turns[0].first_input.empty() ? sample.turns[0].input : sample.turns[0].first_input;
  if (!chat) {
    KVLAB_ASSIGN_OR_RETURN(p.context, Encode(tokenizer, sample.context, true));
    for (const TaskTurn& t : sample.turns) {
      KVLAB_ASSIGN_OR_RETURN(auto q, Encode(tokenizer, qsep + t.input, false));
      p.queries.push_back(std::move(q));
    }
    KVLAB_ASSIGN_OR_RETURN(p.first_turn, Encode(tokenizer, mt_context + sep + first_input, true));
    for (size_t k = 1; k < sample.turns.size(); ++k) {
      KVLAB_ASSIGN_OR_RETURN(auto a, Encode(tokenizer, sample.turns[k - 1].answer + sep + sample.turns[k].input,
                                            false));
      p.appends.push_back(std::move(a));
      KVLAB_ASSIGN_OR_RETURN(auto m, Encode(tokenizer, sep + sample.turns[k].input, false));
      p.appends_model.push_back(std::move(m));
    }
    return p;
  }

  // Multi-request: split one rendering at the marker between context and question.
  std::string shared_context;
  for (const TaskTurn& t : sample.turns) {
    std::vector<ChatMessage> msgs = {{"user", absl::StrCat(sample.context, kSplit, qsep, t.input)}};
    KVLAB_ASSIGN_OR_RETURN(std::string text, chat->Render(msgs, true));
    const size_t at = text.find(kSplit);
    if (at == std::string::npos) return absl::InternalError("prompt split marker vanished from the rendering");
    if (shared_context.empty()) {
      shared_context = text.substr(0, at);
      KVLAB_ASSIGN_OR_RETURN(p.context, Encode(tokenizer, shared_context, false));
    } else if (text.substr(0, at) != shared_context) {
      return absl::InvalidArgumentError("chat template renders the shared context differently per question");
    }
    KVLAB_ASSIGN_OR_RETURN(auto q, Encode(tokenizer, text.substr(at + sizeof(kSplit) - 1), false));
    p.queries.push_back(std::move(q));
  }

  // Multi-turn: consecutive renderings of the growing conversation.
  std::vector<ChatMessage> conv = {{"user", absl::StrCat(mt_context, sep, first_input)}};
  KVLAB_ASSIGN_OR_RETURN(std::string previous, chat->Render(conv, true));
  KVLAB_ASSIGN_OR_RETURN(p.first_turn, Encode(tokenizer, previous, false));
  for (size_t k = 1; k < sample.turns.size(); ++k) {
    conv.push_back({"assistant", sample.turns[k - 1].answer});
    conv.push_back({"user", sample.turns[k].input});
    KVLAB_ASSIGN_OR_RETURN(std::string text, chat->Render(conv, true));
    KVLAB_ASSIGN_OR_RETURN(std::string rest, Rest(text, previous));
    KVLAB_ASSIGN_OR_RETURN(auto a, Encode(tokenizer, rest, false));
    p.appends.push_back(std::move(a));
    // Model-answer mode: the rendering past the answer text itself.
    std::vector<ChatMessage> open = conv;
    open.pop_back();
    KVLAB_ASSIGN_OR_RETURN(std::string with_answer, chat->Render(open, false));
    const std::string& answer = sample.turns[k - 1].answer;
    const size_t at = with_answer.rfind(answer);
    if (at == std::string::npos || !absl::StartsWith(with_answer, previous)) {
      return absl::InvalidArgumentError("chat template renderings are not incremental; cannot split the prompt");
    }
    KVLAB_ASSIGN_OR_RETURN(std::string after, Rest(text, with_answer.substr(0, at + answer.size())));
    KVLAB_ASSIGN_OR_RETURN(auto m, Encode(tokenizer, after, false));
    p.appends_model.push_back(std::move(m));
    previous = std::move(text);
  }
  return p;
}

}  // namespace kvlab
