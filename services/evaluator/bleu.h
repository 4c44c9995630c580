// Sentence BLEU as NLTK's nltk.translate.bleu_score.sentence_bleu computes it
// with uniform 4-gram weights and Chen & Cherry smoothing method 4 — what the
// SCBench harness (repo_qa_utils.py, after evalplus/repoqa) uses to compare a
// retrieved function with the reference.
#ifndef KVLAB_SERVICES_EVALUATOR_BLEU_H_
#define KVLAB_SERVICES_EVALUATOR_BLEU_H_

#include <string>
#include <vector>

namespace kvlab {

// BLEU of `hypothesis` against one reference. 0 when no unigram matches or
// the hypothesis is empty; brevity penalty exp(1 - r/c) when c <= r.
// Smoothing (NLTK >= 3.6 method4, k = 5): the i-th order with no match gets
// precision (1 / (2^i * 5 / ln(c))) / ngrams, i counting such orders from 1;
// not applied when c == 1 (then an unmatched order makes the score 0).
double SentenceBleu(const std::vector<std::string>& reference, const std::vector<std::string>& hypothesis);

// RepoQA's compute_function_similarity: both strings stripped and split on
// runs of whitespace, then SentenceBleu.
double CodeSimilarity(const std::string& candidate, const std::string& reference);

}  // namespace kvlab

#endif  // KVLAB_SERVICES_EVALUATOR_BLEU_H_
