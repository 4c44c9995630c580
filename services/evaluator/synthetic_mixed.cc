// Generators of Math.Find and of Mix.RepoQA+KV's key-value part.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "services/evaluator/scbench_prompts.h"
#include "services/evaluator/synthetic_common.h"
#include "services/evaluator/synthetic_tasks.h"

namespace kvlab {

absl::StatusOr<TaskSample> GenerateMfSample(const SyntheticOptions& o, const Tokenizer& tokenizer) {
  if (o.turns < 1) return absl::InvalidArgumentError("mf task: turns must be at least 1");
  std::mt19937_64 rng = SampleRng(o.seed, o.index, 6);
  const int max_n = static_cast<int>(std::max<int64_t>(o.context_tokens, 8));
  std::vector<int64_t> values;
  for (int i = 0; i < max_n; ++i) values.push_back(1000 + static_cast<int64_t>(rng() % 99000));
  auto render = [&](int n) {
    nlohmann::json arr(std::vector<int64_t>(values.begin(), values.begin() + n));
    return PythonStr(arr);
  };
  KVLAB_ASSIGN_OR_RETURN(int n, FitCount(render, 5, max_n, o.context_tokens, tokenizer, "mf"));
  if (n % 2 == 0) --n;  // an odd count has an integer median
  values.resize(n);
  // The extremes sit where the first "largest" / "smallest" turns look.
  values[SpreadIndex(0, o.turns, n)] = 100000 + static_cast<int64_t>(rng() % 900000);
  if (o.turns > 1) values[SpreadIndex(1, o.turns, n)] = static_cast<int64_t>(rng() % 1000);
  std::vector<int64_t> sorted = values;
  std::sort(sorted.begin(), sorted.end());
  struct Kind {
    const char* what;
    int64_t answer;
  };
  const Kind kinds[] = {{"largest number", sorted.back()},
                        {"smallest number", sorted.front()},
                        {"median", sorted[n / 2]},
                        {"second largest number", sorted[n - 2]},
                        {"second smallest number", sorted[1]}};
  TaskSample s;
  s.task = "mf";
  s.id = absl::StrCat("mf-", o.seed, "-", o.index);
  s.context = render(n);
  for (int t = 0; t < o.turns; ++t) {
    const Kind& k = kinds[t % 5];
    TaskTurn turn;
    turn.input = absl::StrCat("You should answer with only one number, no other words. The ", k.what,
                              " of the list is: ");
    turn.label = k.answer;
    s.turns.push_back(turn);
  }
  KVLAB_RETURN_IF_ERROR(ApplyScbenchTemplates(s));
  return s;
}

namespace {

// Lines of the C++ sources under `dir` (sorted paths), each file headed by a
// comment naming it. Skips build and hidden directories.
absl::StatusOr<std::vector<std::string>> CodeLines(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return absl::FailedPreconditionError(absl::StrCat("repoqa_and_kv: source directory '", dir, "' not found"));
  }
  std::vector<fs::path> files;
  for (const char* sub : {"services", "kvcache", "engine", "common"}) {
    if (!fs::is_directory(fs::path(dir) / sub, ec)) continue;
    for (auto it = fs::recursive_directory_iterator(fs::path(dir) / sub, ec); it != fs::end(it); it.increment(ec)) {
      const std::string ext = it->path().extension().string();
      if (it->is_regular_file() && (ext == ".cc" || ext == ".h")) files.push_back(it->path());
    }
  }
  std::sort(files.begin(), files.end());
  std::vector<std::string> lines;
  for (const fs::path& f : files) {
    std::ifstream in(f);
    lines.push_back(absl::StrCat("// File: ", fs::relative(f, dir, ec).string()));
    std::string line;
    while (std::getline(in, line)) lines.push_back(line);
  }
  if (lines.size() < 16) {
    return absl::FailedPreconditionError(absl::StrCat("repoqa_and_kv: no C++ sources under '", dir, "'"));
  }
  return lines;
}

std::string Uuid(std::mt19937_64& rng) {
  const std::string hex = "0123456789abcdef";
  return absl::StrCat(RandomString(rng, 8, hex), "-", RandomString(rng, 4, hex), "-4", RandomString(rng, 3, hex),
                      "-", RandomString(rng, 4, hex), "-", RandomString(rng, 12, hex));
}

}  // namespace

absl::StatusOr<TaskSample> GenerateRepoQaKvSample(const SyntheticOptions& o, const Tokenizer& tokenizer) {
  if (o.turns < 1) return absl::InvalidArgumentError("repoqa_and_kv task: turns must be at least 1");
  std::string dir = o.source_dir;
  if (dir.empty()) {
    const char* env = std::getenv("KVLAB_SOURCE_DIR");
    if (env == nullptr) {
      return absl::FailedPreconditionError("repoqa_and_kv: set the task's source_dir or $KVLAB_SOURCE_DIR");
    }
    dir = env;
  }
  KVLAB_ASSIGN_OR_RETURN(std::vector<std::string> lines, CodeLines(dir));
  std::mt19937_64 rng = SampleRng(o.seed, o.index, 7);
  const int offset = static_cast<int>(rng() % lines.size());
  std::rotate(lines.begin(), lines.begin() + offset, lines.end());
  TaskSample s;
  s.task = "repoqa_and_kv";
  s.id = absl::StrCat("repoqa_and_kv-", o.seed, "-", o.index);
  std::vector<Insertion> inserts;
  const std::vector<int> bands = QuestionBands(o.turns, o.ordered_questions, rng);
  for (int t = 0; t < o.turns; ++t) {
    // The asked pair and a decoy, in one object per turn.
    std::vector<std::pair<std::string, std::string>> pairs;
    for (int i = 0; i < 2; ++i) pairs.emplace_back(Uuid(rng), Uuid(rng));
    const int asked = static_cast<int>(rng() % 2);
    std::string obj = "{";
    for (int i = 0; i < 2; ++i) absl::StrAppend(&obj, i ? ", " : "", "\"", pairs[i].first, "\": \"", pairs[i].second, "\"");
    inserts.push_back({(bands[t] + 0.5) / o.turns, absl::StrCat("// JSON data: ", obj, "}")});
    TaskTurn turn;
    turn.task = "kv";
    turn.input = absl::StrCat("Extract the value corresponding to the specified key in the JSON data above.\nKey: \"",
                              pairs[asked].first, "\"\nThe value associated with the specified key is: ");
    turn.label = pairs[asked].second;
    s.turns.push_back(turn);
  }
  const std::string header = "Below is the code of a repository with JSON key-value data embedded in it.\n\n";
  auto render = [&](int n) { return header + Haystack(lines, n, inserts, "\n"); };
  const int max_n = static_cast<int>(std::max<int64_t>(o.context_tokens, 1));
  KVLAB_ASSIGN_OR_RETURN(int n, FitCount(render, 0, max_n, o.context_tokens, tokenizer, "repoqa_and_kv"));
  s.context = render(n);
  s.repo = "kvlab";
  s.lang = "cpp";
  KVLAB_RETURN_IF_ERROR(ApplyScbenchTemplates(s));
  return s;
}

}  // namespace kvlab
