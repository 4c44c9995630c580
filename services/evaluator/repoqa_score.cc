#include "services/evaluator/repoqa_score.h"

#include "absl/strings/ascii.h"
#include "re2/re2.h"
#include "services/evaluator/bleu.h"

namespace kvlab {

std::string ExtractRepoQaCode(const std::string& prediction) {
  const std::string stripped(absl::StripAsciiWhitespace(absl::string_view(prediction)));
  // repo_qa_utils.sanitize_output's pattern with its look-ahead folded into
  // the closing fence (equivalent; RE2 has no look-ahead).
  static const RE2 kBlock(R"((?ms)^```\w*\s*\n(.*?)^```)");
  std::string block;
  if (RE2::PartialMatch(stripped, kBlock, &block)) return block;
  return stripped;
}

RepoQaVerdict ScoreRepoQa(const std::string& prediction, const std::string& gold_name,
                          const std::vector<RepoQaNeedle>& needles, double threshold) {
  const std::string code = ExtractRepoQaCode(prediction);
  RepoQaVerdict v;
  for (const RepoQaNeedle& n : needles) {
    const double sim = CodeSimilarity(code, n.code);
    if (sim > v.best_similarity) {
      v.best_similarity = sim;
      v.best_name = n.name;
    }
  }
  v.pass = !v.best_name.empty() && v.best_name == gold_name && v.best_similarity >= threshold;
  return v;
}

}  // namespace kvlab
