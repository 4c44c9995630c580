#include "services/evaluator/scbench_scorers.h"

#include <cmath>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "re2/re2.h"
#include "services/evaluator/rouge.h"

namespace kvlab {
namespace {

using nlohmann::json;

// ---- text helpers ---------------------------------------------------------

// Decodes UTF-8 into code points (invalid bytes pass through as themselves).
std::u32string Utf32(const std::string& s) {
  std::u32string out;
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    if (i + len > s.size()) len = 1;
    char32_t cp = len == 1 ? c : len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
    for (int k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
    out.push_back(cp);
    i += len;
  }
  return out;
}

std::string Utf8(char32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
  return out;
}

// Python's str.isspace() set (what str.split() and str.strip() remove).
bool IsPySpace(char32_t c) {
  return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

std::string PyStrip(const std::string& s) {
  const std::u32string u = Utf32(s);
  size_t b = 0, e = u.size();
  while (b < e && IsPySpace(u[b])) ++b;
  while (e > b && IsPySpace(u[e - 1])) --e;
  std::string out;
  for (size_t i = b; i < e; ++i) out += Utf8(u[i]);
  return out;
}

std::vector<std::string> PySplit(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char32_t c : Utf32(s)) {
    if (IsPySpace(c)) {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += Utf8(c);
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// The label's items as the harness iterates them: a list's elements, or — for
// a string — its characters (the upstream defect behind Zh.QA and ManyShot).
std::vector<std::string> IterateLikePython(const json& label) {
  std::vector<std::string> out;
  if (label.is_array()) {
    for (const json& e : label) out.push_back(e.is_string() ? e.get<std::string>() : e.dump());
  } else if (label.is_string()) {
    for (char32_t c : Utf32(label.get<std::string>())) out.push_back(Utf8(c));
  } else {
    out.push_back(label.dump());
  }
  return out;
}

// The label as one string (a list's first element; numbers printed).
std::string LabelString(const json& label) {
  const json& v = label.is_array() && !label.empty() ? label[0] : label;
  return v.is_string() ? v.get<std::string>() : v.dump();
}

// The label as whole items (strings stay whole).
std::vector<std::string> LabelItems(const json& label) {
  if (label.is_array()) return IterateLikePython(label);
  return {LabelString(label)};
}

// compute_scores.first_int_match: the first run of ASCII digits, or "".
std::string FirstInt(const std::string& s) {
  size_t i = 0;
  while (i < s.size() && !absl::ascii_isdigit(static_cast<unsigned char>(s[i]))) ++i;
  size_t j = i;
  while (j < s.size() && absl::ascii_isdigit(static_cast<unsigned char>(s[j]))) ++j;
  return s.substr(i, j - i);
}

double Round2(double x) { return std::nearbyint(x * 100.0) / 100.0; }

// ---- F1 over characters (Zh.QA) --------------------------------------------

bool IsZhPunct(char32_t c) {
  static const std::set<char32_t>* kPunct = [] {
    auto* set = new std::set<char32_t>;
    for (char c : std::string("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")) set->insert(static_cast<char32_t>(c));
    // compute_scores.normalize_zh_answer's cn_punctuation list.
    for (char32_t c : Utf32("！？｡。＂＃＄％＆＇（）＊＋，－／：；＜＝＞＠［＼］＾＿｀｛｜｝～｟｠｢｣､、〃》「」『』【】〔〕〖〗〘〙〚〛〜〝〞〟〰〾〿–—‘’‛“”„‟…‧﹏.")) {
      set->insert(c);
    }
    return set;
  }();
  return kPunct->count(c) > 0;
}

// normalize_zh_answer: lower-case, drop punctuation, drop whitespace; then
// one character per token.
std::u32string NormalizeZh(const std::string& s) {
  std::u32string out;
  for (char32_t c : Utf32(s)) {
    if (c >= 'A' && c <= 'Z') c = c - 'A' + 'a';
    if (IsZhPunct(c) || IsPySpace(c)) continue;
    out.push_back(c);
  }
  return out;
}

double CharF1(const std::u32string& pred, const std::u32string& gold) {
  std::map<char32_t, int> p, g;
  for (char32_t c : pred) ++p[c];
  for (char32_t c : gold) ++g[c];
  int same = 0;
  for (const auto& [c, n] : p) {
    auto it = g.find(c);
    if (it != g.end()) same += std::min(n, it->second);
  }
  if (same == 0) return 0.0;
  const double precision = static_cast<double>(same) / pred.size(), recall = static_cast<double>(same) / gold.size();
  return 2 * precision * recall / (precision + recall);
}

double ZhF1(const std::string& prediction, const std::vector<std::string>& golds) {
  double best = 0;
  const std::u32string pred = NormalizeZh(prediction);
  for (const std::string& g : golds) best = std::max(best, CharF1(pred, NormalizeZh(g)));
  return best;
}

// ---- multiple choice ------------------------------------------------------

// get_score_one_longbook_choice_eng; label = [option text, letter].
double UpstreamChoice(std::string pred, const std::vector<std::string>& label) {
  auto in_label = [&](const std::string& s) { return std::find(label.begin(), label.end(), s) != label.end(); };
  pred = PyStrip(pred);
  if (pred.empty()) return 0;
  if (pred[0] >= 'A' && pred[0] <= 'D') return in_label(std::string(1, pred[0])) ? 1 : 0;  // "Based on" -> B
  if (in_label(pred)) return 1;
  for (const char* c : {"\n", "\"", "'", ".", ",", "?", "!", "{", "}"}) pred = absl::StrReplaceAll(pred, {{c, " "}});
  while (Contains(pred, "  ")) pred = absl::StrReplaceAll(pred, {{"  ", " "}});
  for (const std::string prefix : {"answer is:", "answer:", "answer is", "option is"}) {
    const size_t idx = pred.find(prefix);
    if (idx == std::string::npos) continue;
    if (pred.size() < idx + prefix.size() + 1) return 0;
    const std::string after = pred.substr(idx + prefix.size() + 1);
    for (const std::string& s : label) {
      if (absl::StartsWith(after, s)) return 1;
    }
    return 0;
  }
  for (const std::string& word : PySplit(pred)) {
    if (Contains("ABCD", word)) return in_label(word) ? 1 : 0;  // a substring test upstream
  }
  return 0;
}

// The option letter a prediction commits to: a leading "A"/"(A)"/"A."/"A:",
// then "answer is (A)" / "answer: A" / "option A", then a standalone "(A)" or
// "A." anywhere, then the text of exactly one option.
std::string StrictChoiceLetter(const std::string& prediction, const std::vector<std::string>& options) {
  const std::string pred = PyStrip(prediction);
  std::string letter;
  static const RE2 kLeading(R"(^\(?([A-D])(?:[).:,]|\s|$))");
  static const RE2 kPhrase(R"((?i:answer(?:\s+is)?|option)\s*:?\s*\(?([A-D])(?:[).:,]|\s|$))");
  static const RE2 kMarked(R"((?:^|[\s(])([A-D])[).:])");
  if (RE2::PartialMatch(pred, kLeading, &letter) || RE2::PartialMatch(pred, kPhrase, &letter) ||
      RE2::PartialMatch(pred, kMarked, &letter)) {
    return letter;
  }
  int found = -1;
  for (size_t i = 0; i < options.size(); ++i) {
    if (!options[i].empty() && Contains(pred, options[i])) {
      if (found >= 0) return "";
      found = static_cast<int>(i);
    }
  }
  return found >= 0 ? std::string(1, static_cast<char>('A' + found)) : "";
}

// ---- numbers --------------------------------------------------------------

// get_score_one_math_find: the first unsigned number (\d+\.\d+|\d+); an
// integer label compares with int(float(x)), a float label with float(x).
double UpstreamMathFind(const std::string& pred, const json& label_in) {
  const json& label = label_in.is_array() && !label_in.empty() ? label_in[0] : label_in;
  std::string num;
  static const RE2 kNum(R"((\d+\.\d+|\d+))");
  if (!RE2::PartialMatch(pred, kNum, &num)) return 0;
  const double v = std::strtod(num.c_str(), nullptr);
  if (label.is_number_integer()) return static_cast<int64_t>(v) == label.get<int64_t>() ? 1 : 0;
  if (label.is_number()) return v == label.get<double>() ? 1 : 0;
  return 0;
}

// Strict: the first number with its sign.
double StrictMathFind(const std::string& pred, const json& label_in) {
  const json& label = label_in.is_array() && !label_in.empty() ? label_in[0] : label_in;
  std::string num;
  static const RE2 kNum(R"((-?\d+(?:\.\d+)?))");
  if (!RE2::PartialMatch(pred, kNum, &num) || !label.is_number()) return 0;
  return std::strtod(num.c_str(), nullptr) == label.get<double>() ? 1 : 0;
}

// ---- ManyShot / En.QA (longdialogue_qa_eng) -------------------------------

double UpperContainsAny(const std::string& prediction, const std::vector<std::string>& items) {
  const std::string pred = absl::AsciiStrToUpper(PyStrip(prediction));
  for (const std::string& item : items) {
    if (Contains(pred, absl::AsciiStrToUpper(item))) return 1;
  }
  return 0;
}

// Strict ManyShot: an option label like "(A)" must be the option the
// prediction gives first; other labels must occur whole.
double StrictManyShot(const std::string& prediction, const json& label) {
  const std::string gold = PyStrip(LabelString(label));
  std::string gold_letter;
  static const RE2 kGold(R"(^\(?([A-Za-z])\)?$)");
  if (!RE2::FullMatch(gold, kGold, &gold_letter)) return UpperContainsAny(prediction, {gold});
  const std::string pred = PyStrip(prediction);
  std::string letter;
  static const RE2 kParen(R"(\(([A-Za-z])\))");
  static const RE2 kLead(R"(^([A-Za-z])(?:[).:,]|\s|$))");
  if (!RE2::PartialMatch(pred, kParen, &letter) && !RE2::PartialMatch(pred, kLead, &letter)) return 0;
  return absl::AsciiStrToUpper(letter) == absl::AsciiStrToUpper(gold_letter) ? 1 : 0;
}

double RepoQa(const TurnToScore& t) {
  std::vector<RepoQaNeedle> own;
  const std::vector<RepoQaNeedle>* needles = t.needles;
  if (needles == nullptr) {
    own.push_back({t.func_name, t.gold_code.empty() ? LabelString(t.label) : t.gold_code});
    needles = &own;
  }
  return ScoreRepoQa(t.prediction, t.func_name, *needles).pass ? 1 : 0;
}

}  // namespace

const char* ScorerVariantName(ScorerVariant variant) {
  return variant == ScorerVariant::kScbench ? "scbench" : "strict";
}

absl::StatusOr<ScorerVariant> ParseScorerVariant(const std::string& name) {
  if (name == "scbench") return ScorerVariant::kScbench;
  if (name == "strict") return ScorerVariant::kStrict;
  return absl::InvalidArgumentError(absl::StrCat("scorer '", name, "' is not \"scbench\" or \"strict\""));
}

double ScoreScbenchTurn(ScorerVariant variant, const TurnToScore& t) {
  const bool strict = variant == ScorerVariant::kStrict;
  const std::string& task = t.subtask.empty() ? t.task : t.subtask;
  const std::string& pred = t.prediction;
  if (task == "passkey") return FirstInt(pred) == LabelString(t.label) ? 1 : 0;
  if (task == "vt") {
    // string_match_all: share of gold items found, case-insensitively.
    const std::vector<std::string> items = strict ? LabelItems(t.label) : IterateLikePython(t.label);
    if (items.empty()) return 0;
    const std::string p = absl::AsciiStrToLower(pred);
    double found = 0;
    for (const std::string& item : items) found += Contains(p, absl::AsciiStrToLower(item)) ? 1 : 0;
    return strict ? found / items.size() : Round2(found / items.size());
  }
  if (task == "qa_eng") return UpperContainsAny(pred, strict ? LabelItems(t.label) : IterateLikePython(t.label));
  if (task == "many_shot") {
    return strict ? StrictManyShot(pred, t.label) : UpperContainsAny(pred, IterateLikePython(t.label));
  }
  if (task == "qa_chn") return ZhF1(pred, strict ? LabelItems(t.label) : IterateLikePython(t.label));
  if (task == "choice_eng") {
    const std::vector<std::string> label = LabelItems(t.label);
    if (!strict) return UpstreamChoice(pred, label);
    const std::string gold_letter = label.size() >= 2 ? label[1] : "";
    std::vector<std::string> options = t.options;
    if (options.size() != 4) {  // only the gold option's text is known
      options.assign(4, "");
      if (gold_letter.size() == 1 && gold_letter[0] >= 'A' && gold_letter[0] <= 'D') {
        options[gold_letter[0] - 'A'] = label[0];
      }
    }
    return !gold_letter.empty() && StrictChoiceLetter(pred, options) == gold_letter ? 1 : 0;
  }
  if (task == "mf") return strict ? StrictMathFind(pred, t.label) : UpstreamMathFind(pred, t.label);
  if (task == "summary") return RougeLsum(pred, LabelString(t.label)).f;
  if (task == "repoqa") return RepoQa(t);
  // kv, prefix_suffix and anything else: the gold string occurs in the prediction.
  const std::string gold = LabelString(t.label);
  if (strict && gold.empty()) return 0;
  return Contains(pred, gold) ? 1 : 0;
}

}  // namespace kvlab
