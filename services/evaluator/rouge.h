// ROUGE-L and ROUGE-Lsum as Google's rouge_score package computes them (the
// scorer behind Hugging Face `evaluate.load("rouge")`, which the SCBench
// harness uses for En.Sum), without stemming.
#ifndef KVLAB_SERVICES_EVALUATOR_ROUGE_H_
#define KVLAB_SERVICES_EVALUATOR_ROUGE_H_

#include <string>
#include <vector>

namespace kvlab {

struct RougeScore {
  double precision = 0;
  double recall = 0;
  double f = 0;
};

// rouge_score's default tokenizer: lower-case (ASCII), every run of
// characters other than [a-z0-9] becomes a separator, empty tokens dropped.
// Non-ASCII text therefore yields no tokens.
std::vector<std::string> RougeTokenize(const std::string& text);

// ROUGE-L: longest common subsequence of the two token sequences.
RougeScore RougeL(const std::string& prediction, const std::string& reference);

// ROUGE-Lsum: both texts are split into sentences at '\n' (empty lines
// dropped); for each reference sentence the union of its LCS with every
// prediction sentence counts as hits, each token at most as often as it
// occurs in either text (rouge_score's _summary_level_lcs).
RougeScore RougeLsum(const std::string& prediction, const std::string& reference);

}  // namespace kvlab

#endif  // KVLAB_SERVICES_EVALUATOR_ROUGE_H_
