#include "services/evaluator/synthetic_kv.h"

#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "services/evaluator/scbench_prompts.h"
#include "services/evaluator/synthetic_common.h"

namespace kvlab {
namespace {

// A random version-4 UUID string.
std::string Uuid(std::mt19937_64& rng) {
  uint64_t a = rng(), b = rng();
  a = (a & 0xffffffffffff0fffull) | 0x0000000000004000ull;
  b = (b & 0x3fffffffffffffffull) | 0x8000000000000000ull;
  return absl::StrFormat("%08x-%04x-%04x-%04x-%012x", a >> 32, (a >> 16) & 0xffff, a & 0xffff, b >> 48,
                         b & 0xffffffffffffull);
}

std::string Render(const std::vector<std::pair<std::string, std::string>>& pairs) {
  std::string out = "{";
  for (size_t i = 0; i < pairs.size(); ++i) {
    absl::StrAppend(&out, i ? ", " : "", "\"", pairs[i].first, "\": \"", pairs[i].second, "\"");
  }
  out += "}";
  return out;
}

}  // namespace

absl::StatusOr<TaskSample> GenerateKvSample(const KvTaskOptions& options, const Tokenizer& tokenizer) {
  if (options.turns < 1) return absl::InvalidArgumentError("kv task: turns must be at least 1");
  std::mt19937_64 rng(options.seed * 1000003ull + static_cast<uint64_t>(options.index));
  std::vector<std::pair<std::string, std::string>> pairs;
  // Tokens per pair, measured on the first pairs, to grow in large steps.
  int64_t tokens = 0;
  while (true) {
    pairs.emplace_back(Uuid(rng), Uuid(rng));
    if (pairs.size() % 16 == 1 || tokens >= options.context_tokens * 9 / 10) {
      KVLAB_ASSIGN_OR_RETURN(std::vector<int32_t> ids, tokenizer.Encode(Render(pairs), false));
      tokens = static_cast<int64_t>(ids.size());
      if (tokens > options.context_tokens) {
        pairs.pop_back();
        break;
      }
    } else {
      tokens += tokens / static_cast<int64_t>(pairs.size() - 1);
    }
  }
  if (static_cast<int>(pairs.size()) < options.turns) {
    return absl::InvalidArgumentError(absl::StrCat("kv task: ", options.context_tokens,
                                                   " tokens hold only ", pairs.size(), " pairs, fewer than ",
                                                   options.turns, " turns"));
  }
  TaskSample s;
  s.task = "kv";
  s.id = absl::StrCat("kv-", options.seed, "-", options.index);
  s.context = Render(pairs);  // the template adds the instruction
  const int n = static_cast<int>(pairs.size());
  const std::vector<int> bands = QuestionBands(options.turns, options.ordered_questions, rng);
  for (int t = 0; t < options.turns; ++t) {
    // Evenly spread, asked in shuffled order: turn t asks the pair in the
    // middle of band bands[t] of the object.
    const int at = SpreadIndex(bands[t], options.turns, n);
    TaskTurn turn;
    turn.input = absl::StrCat("Key: \"", pairs[at].first, "\"\nThe value associated with the specified key is: ");
    turn.label = pairs[at].second;
    s.turns.push_back(turn);
  }
  KVLAB_RETURN_IF_ERROR(ApplyScbenchTemplates(s));
  return s;
}

}  // namespace kvlab
