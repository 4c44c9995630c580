#include "services/evaluator/synthetic_common.h"

#include <algorithm>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace kvlab {

absl::StatusOr<int> FitCount(const std::function<std::string(int)>& render, int min_n, int max_n,
                             int64_t target_tokens, const Tokenizer& tokenizer, const std::string& what) {
  auto fits = [&](int n) -> absl::StatusOr<bool> {
    KVLAB_ASSIGN_OR_RETURN(std::vector<int32_t> ids, tokenizer.Encode(render(n), false));
    return static_cast<int64_t>(ids.size()) <= target_tokens;
  };
  KVLAB_ASSIGN_OR_RETURN(bool ok, fits(min_n));
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", target_tokens, " tokens are too few for the task"));
  }
  int lo = min_n, hi = max_n;  // fits(lo) holds
  while (lo < hi) {
    const int mid = lo + (hi - lo + 1) / 2;
    KVLAB_ASSIGN_OR_RETURN(bool f, fits(mid));
    if (f) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return lo;
}

int SpreadIndex(int t, int turns, int n) {
  return std::clamp(static_cast<int>((t + 0.5) * n / std::max(1, turns)), 0, std::max(0, n - 1));
}

std::vector<int> QuestionBands(int turns, bool in_order, std::mt19937_64& rng) {
  std::vector<int> bands(static_cast<size_t>(std::max(turns, 0)));
  std::iota(bands.begin(), bands.end(), 0);
  std::vector<int> shuffled = bands;
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  return in_order ? bands : shuffled;
}

std::string Haystack(const std::vector<std::string>& units, int n, const std::vector<Insertion>& inserts,
                     const std::string& joiner) {
  std::vector<Insertion> sorted = inserts;
  std::stable_sort(sorted.begin(), sorted.end(), [](const Insertion& a, const Insertion& b) { return a.at < b.at; });
  std::string out;
  size_t next = 0;
  for (int i = 0; i <= n; ++i) {
    while (next < sorted.size() && (i == n || static_cast<int>(sorted[next].at * n) <= i)) {
      absl::StrAppend(&out, out.empty() ? "" : joiner, sorted[next].text);
      ++next;
    }
    if (i < n && !units.empty()) absl::StrAppend(&out, out.empty() ? "" : joiner, units[i % units.size()]);
  }
  return out;
}

std::mt19937_64 SampleRng(uint64_t seed, int index, uint64_t salt) {
  return std::mt19937_64(seed * 1000003ull + static_cast<uint64_t>(index) + salt * 0x9e3779b97f4a7c15ull);
}

std::string RandomString(std::mt19937_64& rng, int len, const std::string& alphabet) {
  std::string s;
  for (int i = 0; i < len; ++i) s += alphabet[rng() % alphabet.size()];
  return s;
}

const std::string& FillerSentence() {
  static const auto* s =
      new std::string("The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.");
  return *s;
}

}  // namespace kvlab
