#include "services/evaluator/bleu.h"

#include <cmath>
#include <map>

namespace kvlab {
namespace {

using Tokens = std::vector<std::string>;

std::map<Tokens, int> NGrams(const Tokens& t, size_t n) {
  std::map<Tokens, int> out;
  for (size_t i = 0; i + n <= t.size(); ++i) ++out[Tokens(t.begin() + i, t.begin() + i + n)];
  return out;
}

Tokens SplitWhitespace(const std::string& s) {
  Tokens out;
  std::string cur;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

}  // namespace

double SentenceBleu(const Tokens& reference, const Tokens& hypothesis) {
  constexpr int kOrder = 4;
  constexpr double kK = 5.0;
  const size_t c = hypothesis.size(), r = reference.size();
  if (c == 0) return 0.0;
  double numer[kOrder + 1] = {}, denom[kOrder + 1] = {};
  for (int n = 1; n <= kOrder; ++n) {
    const auto hyp = NGrams(hypothesis, n), ref = NGrams(reference, n);
    int matched = 0, total = 0;
    for (const auto& [gram, count] : hyp) {
      total += count;
      auto it = ref.find(gram);
      if (it != ref.end()) matched += std::min(count, it->second);
    }
    numer[n] = matched;
    denom[n] = std::max(1, total);
  }
  if (numer[1] == 0) return 0.0;
  const double bp = c > r ? 1.0 : std::exp(1.0 - static_cast<double>(r) / c);
  double log_sum = 0;
  int unmatched_orders = 0;
  for (int n = 1; n <= kOrder; ++n) {
    double p = numer[n] / denom[n];
    if (numer[n] == 0) {
      if (c <= 1) return 0.0;  // NLTK would take log(0)
      ++unmatched_orders;
      p = (1.0 / (std::pow(2.0, unmatched_orders) * kK / std::log(static_cast<double>(c)))) / denom[n];
    }
    log_sum += 0.25 * std::log(p);
  }
  return bp * std::exp(log_sum);
}

double CodeSimilarity(const std::string& candidate, const std::string& reference) {
  return SentenceBleu(SplitWhitespace(reference), SplitWhitespace(candidate));
}

}  // namespace kvlab
