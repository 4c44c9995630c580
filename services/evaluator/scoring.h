// Scores a prediction against the gold answer of a turn.
#ifndef KVLAB_SERVICES_EVALUATOR_SCORING_H_
#define KVLAB_SERVICES_EVALUATOR_SCORING_H_

#include <string>

namespace kvlab {

// SCBench's string-retrieval score: 1 when the gold answer occurs in the
// prediction, else 0 (0 for an empty gold answer).
double SubstringMatch(const std::string& prediction, const std::string& gold);

// The upstream-compatible ("scbench") score of `prediction` for a turn of
// `task` whose gold answer is the string `gold` (see scbench_scorers.h for
// list/number labels, RepoQA needles and the strict variant).
double ScoreTurn(const std::string& task, const std::string& prediction, const std::string& gold);

}  // namespace kvlab

#endif  // KVLAB_SERVICES_EVALUATOR_SCORING_H_
