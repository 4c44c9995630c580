#include "services/evaluator/scoring.h"

#include "services/evaluator/scbench_scorers.h"

namespace kvlab {

double SubstringMatch(const std::string& prediction, const std::string& gold) {
  return !gold.empty() && prediction.find(gold) != std::string::npos ? 1.0 : 0.0;
}

double ScoreTurn(const std::string& task, const std::string& prediction, const std::string& gold) {
  TurnToScore t;
  t.task = task;
  t.prediction = prediction;
  t.label = gold;
  return ScoreScbenchTurn(ScorerVariant::kScbench, t);
}

}  // namespace kvlab
