#include "tools/training_records.h"

#include <algorithm>

#include "common/status_macros.h"
#include "services/evaluator/prompt_builder.h"

namespace kvlab {
namespace {

// A question appended after the last real turn so that BuildPrompts also
// splits the last gold answer off the text that follows it.
constexpr char kSentinelQuestion[] = "?";

// The answer of turn k (0-based) = appends[k] minus its suffix appends_model[k]
// (what follows the answer), plus the first token of that suffix (end of turn).
absl::StatusOr<std::vector<int32_t>> AnswerTokens(const PromptPieces& p, size_t k) {
  const std::vector<int32_t>& with = p.appends[k];
  const std::vector<int32_t>& after = p.appends_model[k];
  if (after.empty() || after.size() > with.size() ||
      !std::equal(after.begin(), after.end(), with.end() - static_cast<std::ptrdiff_t>(after.size()))) {
    return absl::InvalidArgumentError("cannot split a gold answer off the multi-turn pieces");
  }
  std::vector<int32_t> answer(with.begin(), with.end() - static_cast<std::ptrdiff_t>(after.size()));
  answer.push_back(after.front());
  return answer;
}

void Append(std::vector<int32_t>& to, const std::vector<int32_t>& from) { to.insert(to.end(), from.begin(), from.end()); }

absl::Status Finish(const Tokenizer& tokenizer, TrainingRecord& r) {
  KVLAB_ASSIGN_OR_RETURN(r.text, tokenizer.Decode(r.ids));
  for (const auto& [b, e] : r.answer_spans) {
    KVLAB_ASSIGN_OR_RETURN(std::string head, tokenizer.Decode(std::span<const int32_t>(r.ids.data(), b)));
    KVLAB_ASSIGN_OR_RETURN(std::string body, tokenizer.Decode(std::span<const int32_t>(r.ids.data() + b, e - b)));
    const int64_t at = static_cast<int64_t>(head.size());
    r.answer_chars.emplace_back(at, at + static_cast<int64_t>(body.size()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<TrainingRecord>> BuildTrainingRecords(const TaskSample& sample,
                                                                 const Tokenizer& tokenizer,
                                                                 const ChatTemplate& chat, bool multi_turn,
                                                                 bool multi_request) {
  TaskSample extended = sample;
  TaskTurn sentinel;
  sentinel.input = kSentinelQuestion;
  extended.turns.push_back(sentinel);
  KVLAB_ASSIGN_OR_RETURN(PromptPieces p, BuildPrompts(extended, tokenizer, chat));
  const size_t n = sample.turns.size();
  std::vector<std::vector<int32_t>> answers;
  for (size_t k = 0; k < n; ++k) {
    KVLAB_ASSIGN_OR_RETURN(auto a, AnswerTokens(p, k));
    answers.push_back(std::move(a));
  }
  std::vector<TrainingRecord> out;
  if (multi_turn) {
    TrainingRecord r;
    r.mode = "multi_turn";
    r.ids = p.first_turn;
    for (size_t k = 0; k < n; ++k) {
      const int64_t begin = static_cast<int64_t>(r.ids.size());
      r.answer_spans.emplace_back(begin, begin + static_cast<int64_t>(answers[k].size()));
      if (k + 1 < n) {
        Append(r.ids, p.appends[k]);  // answer k, end of turn, question k+1
      } else {
        Append(r.ids, answers[k]);
      }
    }
    KVLAB_RETURN_IF_ERROR(Finish(tokenizer, r));
    out.push_back(std::move(r));
  }
  if (multi_request) {
    for (size_t k = 0; k < n; ++k) {
      TrainingRecord r;
      r.mode = "multi_request";
      r.turn = static_cast<int>(k);
      r.ids = p.context;
      Append(r.ids, p.queries[k]);
      const int64_t begin = static_cast<int64_t>(r.ids.size());
      Append(r.ids, answers[k]);
      r.answer_spans.emplace_back(begin, static_cast<int64_t>(r.ids.size()));
      KVLAB_RETURN_IF_ERROR(Finish(tokenizer, r));
      out.push_back(std::move(r));
    }
  }
  return out;
}

}  // namespace kvlab
