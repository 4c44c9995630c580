#include "services/evaluator/rouge.h"

#include <map>
#include <set>

namespace kvlab {
namespace {

using Tokens = std::vector<std::string>;

double FMeasure(double p, double r) { return p + r > 0 ? 2 * p * r / (p + r) : 0.0; }

// Dynamic-programming LCS table, (|a|+1) x (|b|+1).
std::vector<std::vector<int>> LcsTable(const Tokens& a, const Tokens& b) {
  std::vector<std::vector<int>> t(a.size() + 1, std::vector<int>(b.size() + 1, 0));
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      t[i][j] = a[i - 1] == b[j - 1] ? t[i - 1][j - 1] + 1 : std::max(t[i - 1][j], t[i][j - 1]);
    }
  }
  return t;
}

// Indices into `ref` of one LCS, walking back the way rouge_score's
// _backtrack_norec does (prefers moving in `can` only on a strict win).
std::vector<size_t> LcsIndices(const Tokens& ref, const Tokens& can) {
  const auto t = LcsTable(ref, can);
  std::vector<size_t> out;
  size_t i = ref.size(), j = can.size();
  while (i > 0 && j > 0) {
    if (ref[i - 1] == can[j - 1]) {
      out.push_back(i - 1);
      --i;
      --j;
    } else if (t[i][j - 1] > t[i - 1][j]) {
      --j;
    } else {
      --i;
    }
  }
  return {out.rbegin(), out.rend()};
}

std::vector<Tokens> Sentences(const std::string& text) {
  std::vector<Tokens> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) out.push_back(RougeTokenize(text.substr(start, end - start)));
    start = end + 1;
  }
  return out;
}

}  // namespace

std::vector<std::string> RougeTokenize(const std::string& text) {
  Tokens tokens;
  std::string cur;
  for (char c : text) {
    const char l = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    if ((l >= 'a' && l <= 'z') || (l >= '0' && l <= '9')) {
      cur += l;
    } else if (!cur.empty()) {
      tokens.push_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) tokens.push_back(std::move(cur));
  return tokens;
}

RougeScore RougeL(const std::string& prediction, const std::string& reference) {
  const Tokens p = RougeTokenize(prediction), r = RougeTokenize(reference);
  if (p.empty() || r.empty()) return {};
  const double lcs = LcsTable(r, p)[r.size()][p.size()];
  RougeScore s;
  s.precision = lcs / p.size();
  s.recall = lcs / r.size();
  s.f = FMeasure(s.precision, s.recall);
  return s;
}

RougeScore RougeLsum(const std::string& prediction, const std::string& reference) {
  const std::vector<Tokens> ref = Sentences(reference), can = Sentences(prediction);
  if (ref.empty() || can.empty()) return {};
  std::map<std::string, int> ref_counts, can_counts;
  size_t m = 0, n = 0;
  for (const Tokens& s : ref) {
    m += s.size();
    for (const auto& t : s) ++ref_counts[t];
  }
  for (const Tokens& s : can) {
    n += s.size();
    for (const auto& t : s) ++can_counts[t];
  }
  if (m == 0 || n == 0) return {};
  int hits = 0;
  for (const Tokens& r : ref) {
    std::set<size_t> uni;  // union of the LCS indices over prediction sentences
    for (const Tokens& c : can) {
      for (size_t i : LcsIndices(r, c)) uni.insert(i);
    }
    for (size_t i : uni) {
      const std::string& t = r[i];
      if (can_counts[t] > 0 && ref_counts[t] > 0) {
        ++hits;
        --can_counts[t];
        --ref_counts[t];
      }
    }
  }
  RougeScore s;
  s.recall = static_cast<double>(hits) / m;
  s.precision = static_cast<double>(hits) / n;
  s.f = FMeasure(s.precision, s.recall);
  return s;
}

}  // namespace kvlab
