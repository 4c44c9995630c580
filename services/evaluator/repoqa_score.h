// RepoQA pass@1 as the SCBench harness scores it (scbench/repo_qa_utils.py,
// after evalplus/repoqa): the function a prediction repeats is compared by
// BLEU with every needle function of the repository; the turn passes when the
// most similar needle is the asked one and the similarity is >= 0.8.
#ifndef KVLAB_SERVICES_EVALUATOR_REPOQA_SCORE_H_
#define KVLAB_SERVICES_EVALUATOR_REPOQA_SCORE_H_

#include <string>
#include <vector>

namespace kvlab {

struct RepoQaNeedle {
  std::string name;  // function name
  std::string code;  // the function's source (the turn's gold answer)
};

// The code the prediction gives: the first ``` fenced block (the opening
// fence may name a language), else the whole stripped prediction. (Upstream
// then narrows the block to its first function with tree-sitter; kvlab keeps
// the block — see SCORING.md.)
std::string ExtractRepoQaCode(const std::string& prediction);

struct RepoQaVerdict {
  std::string best_name;  // most similar needle; empty when none scores > 0
  double best_similarity = 0;
  bool pass = false;  // best_name == gold name and best_similarity >= threshold
};

// Compares the extracted code with every needle (ties keep the first).
RepoQaVerdict ScoreRepoQa(const std::string& prediction, const std::string& gold_name,
                          const std::vector<RepoQaNeedle>& needles, double threshold = 0.8);

}  // namespace kvlab

#endif  // KVLAB_SERVICES_EVALUATOR_REPOQA_SCORE_H_
