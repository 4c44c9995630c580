// Generators of the string-retrieval tasks: prefix_suffix, vt, passkey.
#include <set>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "services/evaluator/scbench_prompts.h"
#include "services/evaluator/synthetic_common.h"
#include "services/evaluator/synthetic_tasks.h"

namespace kvlab {
namespace {

constexpr char kAlnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
constexpr char kUpper[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";

absl::Status CheckTurns(const SyntheticOptions& o, const std::string& task) {
  if (o.turns < 1) return absl::InvalidArgumentError(absl::StrCat(task, " task: turns must be at least 1"));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TaskSample> GeneratePrefixSuffixSample(const SyntheticOptions& o, const Tokenizer& tokenizer) {
  KVLAB_RETURN_IF_ERROR(CheckTurns(o, "prefix_suffix"));
  std::mt19937_64 rng = SampleRng(o.seed, o.index, 2);
  const std::string alnum = kAlnum;
  // Enough random strings for any budget: a string costs several tokens.
  const int max_n = static_cast<int>(std::max<int64_t>(o.context_tokens / 2, 4 * o.turns));
  std::vector<std::string> items;
  for (int i = 0; i < max_n; ++i) items.push_back(RandomString(rng, 24, alnum));
  const std::string header =
      "Below is a list of random strings, one per line. Remember them: you will be asked for the string that "
      "starts and ends with given characters.\n\n";
  auto render = [&](int n) {
    std::string out = header;
    for (int i = 0; i < n; ++i) absl::StrAppend(&out, items[i], "\n");
    return out;
  };
  KVLAB_ASSIGN_OR_RETURN(int n, FitCount(render, 3 * o.turns, max_n, o.context_tokens, tokenizer, "prefix_suffix"));
  items.resize(n);
  TaskSample s;
  s.task = "prefix_suffix";
  s.id = absl::StrCat("prefix_suffix-", o.seed, "-", o.index);
  const std::vector<int> bands = QuestionBands(o.turns, o.ordered_questions, rng);
  std::set<int> targets;
  for (int t = 0; t < o.turns; ++t) targets.insert(SpreadIndex(bands[t], o.turns, n));
  auto decoy_slot = [&] {
    int d;
    do d = static_cast<int>(rng() % n);
    while (targets.count(d));
    return d;
  };
  for (int t = 0; t < o.turns; ++t) {
    const int at = SpreadIndex(bands[t], o.turns, n);
    const std::string target = items[at];
    const std::string prefix = target.substr(0, 4), suffix = target.substr(target.size() - 4);
    // Decoys elsewhere: one string with the prefix, one with the suffix.
    if (static_cast<int>(targets.size()) + 2 <= n) {
      const int d1 = decoy_slot(), d2 = decoy_slot();
      items[d1] = prefix + items[d1].substr(4);
      if (d2 != d1) items[d2] = items[d2].substr(0, items[d2].size() - 4) + suffix;
    }
    TaskTurn turn;
    turn.input = absl::StrCat("Which string in the list above starts with \"", prefix, "\" and ends with \"",
                              suffix, "\"? Answer with that string only.");
    turn.label = target;
    s.turns.push_back(turn);
  }
  s.context = render(n);
  KVLAB_RETURN_IF_ERROR(ApplyScbenchTemplates(s));
  return s;
}

absl::StatusOr<TaskSample> GenerateVtSample(const SyntheticOptions& o, const Tokenizer& tokenizer) {
  KVLAB_RETURN_IF_ERROR(CheckTurns(o, "vt"));
  constexpr int kHops = 4;
  std::mt19937_64 rng = SampleRng(o.seed, o.index, 3);
  std::set<std::string> used;
  auto fresh_var = [&] {
    std::string v;
    do v = RandomString(rng, 5, kUpper);
    while (!used.insert(v).second);
    return v;
  };
  std::vector<Insertion> inserts;
  TaskSample s;
  s.task = "vt";
  s.id = absl::StrCat("vt-", o.seed, "-", o.index);
  const std::vector<int> bands = QuestionBands(o.turns, o.ordered_questions, rng);
  for (int t = 0; t < o.turns; ++t) {
    const std::string value = std::to_string(10000 + rng() % 90000);
    std::vector<std::string> vars;
    for (int h = 0; h < kHops; ++h) vars.push_back(fresh_var());
    // The chain's hops spread over the turn's band of the context.
    for (int h = 0; h < kHops; ++h) {
      const double at = (bands[t] + (h + 0.5) / kHops) / o.turns;
      inserts.push_back({at, h == 0 ? absl::StrCat("VAR ", vars[0], " = ", value, ".")
                                    : absl::StrCat("VAR ", vars[h], " = VAR ", vars[h - 1], ".")});
    }
    TaskTurn turn;
    turn.input = absl::StrCat("Question: Find all variables that are assigned the value ", value,
                              " in the text above. Answer: the variables assigned the value ", value, " are: ");
    turn.label = vars;
    s.turns.push_back(turn);
  }
  const std::vector<std::string> filler = {FillerSentence()};
  const std::string header = "Memorize and track the chains of variable assignments hidden in the following text.\n\n";
  auto render = [&](int n) { return header + Haystack(filler, n, inserts, " "); };
  const int max_n = static_cast<int>(std::max<int64_t>(o.context_tokens / 8, 1));
  KVLAB_ASSIGN_OR_RETURN(int n, FitCount(render, 0, max_n, o.context_tokens, tokenizer, "vt"));
  s.context = render(n);
  KVLAB_RETURN_IF_ERROR(ApplyScbenchTemplates(s));
  return s;
}

namespace {

// Passkey needles over filler text; shared by passkey and Mix.Sum+NIAH.
absl::StatusOr<TaskSample> PasskeyHaystack(const SyntheticOptions& o, const Tokenizer& tokenizer,
                                           const std::string& task, const std::string& subtask) {
  KVLAB_RETURN_IF_ERROR(CheckTurns(o, task));
  static const char* kDoors[] = {"red", "blue", "green", "yellow", "purple", "orange", "silver", "golden",
                                 "black", "white", "brown", "pink", "grey", "violet", "amber", "crimson"};
  std::mt19937_64 rng = SampleRng(o.seed, o.index, subtask == task ? 4 : 5);
  std::vector<Insertion> inserts;
  TaskSample s;
  s.task = task;
  s.id = absl::StrCat(task, "-", o.seed, "-", o.index);
  const std::vector<int> bands = QuestionBands(o.turns, o.ordered_questions, rng);
  for (int t = 0; t < o.turns; ++t) {
    const std::string door = t < 16 ? kDoors[t] : absl::StrCat(kDoors[t % 16], " ", t / 16 + 1);
    const std::string key = std::to_string(10000 + rng() % 90000);
    inserts.push_back({(bands[t] + 0.5) / o.turns, absl::StrCat("The pass key for the ", door, " door is ", key,
                                                         ". Remember it. ", key, " is the pass key for the ", door,
                                                         " door.")});
    TaskTurn turn;
    turn.input = absl::StrCat("What is the pass key for the ", door, " door? The pass key for the ", door,
                              " door is");
    turn.label = key;
    turn.task = subtask == task ? "" : subtask;
    s.turns.push_back(turn);
  }
  const std::vector<std::string> filler = {FillerSentence()};
  const int max_n = static_cast<int>(std::max<int64_t>(o.context_tokens / 8, 1));
  auto render = [&](int n) { return Haystack(filler, n, inserts, " "); };
  KVLAB_ASSIGN_OR_RETURN(int n, FitCount(render, 0, max_n, o.context_tokens, tokenizer, task));
  s.context = render(n);
  KVLAB_RETURN_IF_ERROR(ApplyScbenchTemplates(s));
  return s;
}

}  // namespace

absl::StatusOr<TaskSample> GeneratePasskeySample(const SyntheticOptions& o, const Tokenizer& tokenizer) {
  return PasskeyHaystack(o, tokenizer, "passkey", "passkey");
}

absl::StatusOr<TaskSample> GenerateSummaryNeedlesSample(const SyntheticOptions& o, const Tokenizer& tokenizer) {
  return PasskeyHaystack(o, tokenizer, "summary_with_needles", "passkey");
}

}  // namespace kvlab
