// Helpers shared by the synthetic task generators: fitting a context to a
// token budget, spreading targets evenly, haystacks with inserted needles.
#ifndef KVLAB_SERVICES_EVALUATOR_SYNTHETIC_COMMON_H_
#define KVLAB_SERVICES_EVALUATOR_SYNTHETIC_COMMON_H_

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/tokenizer/tokenizer.h"

namespace kvlab {

// The largest n in [min_n, max_n] such that render(n) is at most
// `target_tokens` tokens of `tokenizer` (render must grow with n).
// INVALID_ARGUMENT when even render(min_n) is longer.
absl::StatusOr<int> FitCount(const std::function<std::string(int)>& render, int min_n, int max_n,
                             int64_t target_tokens, const Tokenizer& tokenizer, const std::string& what);

// Where target t of `turns` sits among n slots: the middle of its
// 1/turns-wide band ((t + 0.5) / turns), as SCBench spreads its needles.
int SpreadIndex(int t, int turns, int n);

// The band each turn asks about: a seeded permutation of 0..turns-1. Needles
// stay evenly spread over the context, but the order of the questions says
// nothing about where the answers are (no "k-th question, k-th needle"
// shortcut, which a model can learn instead of looking the key up). With
// in_order, 0..turns-1 (rng advances the same either way).
std::vector<int> QuestionBands(int turns, bool in_order, std::mt19937_64& rng);

// A needle placed at a fraction of a haystack.
struct Insertion {
  double at = 0;  // in [0, 1): before unit floor(at * n)
  std::string text;
};

// units[0..n) (cycled when n exceeds the list) joined with `joiner`, with
// each insertion before the unit its fraction names (in order of `at`).
std::string Haystack(const std::vector<std::string>& units, int n, const std::vector<Insertion>& inserts,
                     const std::string& joiner);

// The seed of sample `index` of a job seeded `seed`, per generator `salt`.
std::mt19937_64 SampleRng(uint64_t seed, int index, uint64_t salt);

// `len` random characters of `alphabet`.
std::string RandomString(std::mt19937_64& rng, int len, const std::string& alphabet);

// The passkey-style filler sentence (InfiniteBench / SCBench haystack).
const std::string& FillerSentence();

}  // namespace kvlab

#endif  // KVLAB_SERVICES_EVALUATOR_SYNTHETIC_COMMON_H_
