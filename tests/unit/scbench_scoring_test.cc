// SCBench scorers (upstream-compatible and strict), ROUGE-L/Lsum, BLEU and
// RepoQA pass@1, with the upstream quirks as table cases.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/evaluator/bleu.h"
#include "services/evaluator/repoqa_score.h"
#include "services/evaluator/rouge.h"
#include "services/evaluator/scbench_scorers.h"
#include "services/evaluator/scoring.h"

namespace kvlab {
namespace {

using nlohmann::json;

TEST(RougeTest, TokenizesLikeRougeScore) {
  EXPECT_EQ(RougeTokenize("The KV-cache, re-used: 2x!"),
            (std::vector<std::string>{"the", "kv", "cache", "re", "used", "2x"}));
  EXPECT_TRUE(RougeTokenize("北京").empty());
}

TEST(RougeTest, RougeLAndUnionLcsForLsum) {
  RougeScore l = RougeL("the cat sat", "the cat sat on the mat");
  EXPECT_DOUBLE_EQ(l.precision, 1.0);
  EXPECT_DOUBLE_EQ(l.recall, 0.5);
  EXPECT_NEAR(l.f, 2.0 / 3, 1e-12);
  // The ROUGE paper's union-LCS example: reference a b c d e against
  // candidate sentences "a b f g h" and "a c h i e": union {a, b, c, e}.
  RougeScore s = RougeLsum("a b f g h\na c h i e", "a b c d e");
  EXPECT_DOUBLE_EQ(s.recall, 0.8);
  EXPECT_DOUBLE_EQ(s.precision, 0.4);
  EXPECT_NEAR(s.f, 0.32 * 2 / 1.2, 1e-12);
  // Blank lines do not count as sentences; token counts clip hits.
  EXPECT_NEAR(RougeLsum("a a\n\na", "a").f, 2 * (1.0 / 3) / (1 + 1.0 / 3), 1e-12);
  EXPECT_EQ(RougeLsum("", "a b").f, 0.0);
}

TEST(BleuTest, MatchesNltkSentenceBleuWithMethod4) {
  const std::vector<std::string> ref = {"a", "b", "c", "d"};
  EXPECT_DOUBLE_EQ(SentenceBleu(ref, ref), 1.0);
  // Brevity penalty exp(1 - 6/4) with all precisions 1.
  EXPECT_NEAR(SentenceBleu({"a", "b", "c", "d", "e", "f"}, {"a", "b", "c", "d"}), std::exp(-0.5), 1e-12);
  // p = 2/4, 1/3, then smoothed (ln4/10)/2 and ln4/20 (hand-computed).
  EXPECT_NEAR(SentenceBleu(ref, {"a", "b", "x", "y"}), 0.16821895003341453, 1e-12);
  EXPECT_EQ(SentenceBleu(ref, {"x", "y"}), 0.0);
  EXPECT_EQ(SentenceBleu(ref, {}), 0.0);
  EXPECT_DOUBLE_EQ(CodeSimilarity("def f(x):\n  return x", "  def f(x):   return x\n"), 1.0);
}

TEST(RepoQaTest, ExtractsFirstBlockAndNeedsBestMatchAboveThreshold) {
  EXPECT_EQ(ExtractRepoQaCode("Here:\n```python\ndef f():\n    pass\n```\n```\nother\n```"), "def f():\n    pass\n");
  EXPECT_EQ(ExtractRepoQaCode("  def f(): pass  "), "def f(): pass");
  const std::vector<RepoQaNeedle> needles = {{"add", "def add(x, y):\n    return x + y"},
                                             {"mul", "def mul(x, y):\n    return x * y"}};
  const std::string pred = "```python\ndef add(x, y):\n    return x + y\n```";
  RepoQaVerdict v = ScoreRepoQa(pred, "add", needles);
  EXPECT_TRUE(v.pass);
  EXPECT_EQ(v.best_name, "add");
  EXPECT_DOUBLE_EQ(v.best_similarity, 1.0);
  EXPECT_FALSE(ScoreRepoQa(pred, "mul", needles).pass);          // most similar is another function
  EXPECT_FALSE(ScoreRepoQa("def add(x):", "add", needles).pass);  // similar but below 0.8
}

struct Case {
  const char* task;
  const char* subtask;
  const char* prediction;
  const char* label;  // JSON
  double scbench;
  double strict;
};

class ScorerTableTest : public ::testing::TestWithParam<Case> {};

TEST_P(ScorerTableTest, BothVariants) {
  const Case& c = GetParam();
  TurnToScore t;
  t.task = c.task;
  t.subtask = c.subtask;
  t.prediction = c.prediction;
  t.label = json::parse(c.label);
  EXPECT_NEAR(ScoreScbenchTurn(ScorerVariant::kScbench, t), c.scbench, 1e-4)
      << c.task << " scbench: " << c.prediction;
  EXPECT_NEAR(ScoreScbenchTurn(ScorerVariant::kStrict, t), c.strict, 1e-4) << c.task << " strict: " << c.prediction;
}

INSTANTIATE_TEST_SUITE_P(
    Tasks, ScorerTableTest,
    ::testing::Values(
        // Retr.KV / Prefix-Suffix: substring.
        Case{"kv", "", "The value is 9d1e-bb.", R"("9d1e-bb")", 1, 1},
        Case{"kv", "", "9d1e", R"("9d1e-bb")", 0, 0},
        Case{"prefix_suffix", "", "abcdXYZ123", R"("abcdXYZ123")", 1, 1},
        // Retr.MultiHop: share of items found, case-insensitive; rounded to
        // 2 places upstream; a string label iterates its characters upstream.
        Case{"vt", "", "aaaaa, bbbbb", R"(["AAAAA", "BBBBB", "CCCCC"])", 0.67, 2.0 / 3},
        Case{"vt", "", "a", R"("AB")", 0.5, 0},
        // En.QA: upper-cased substring of any gold answer.
        Case{"qa_eng", "", " paris, france", R"(["Paris"])", 1, 1},
        Case{"qa_eng", "", "London", R"(["Paris"])", 0, 0},
        // Zh.QA: upstream iterates the gold string's characters (F1 against
        // one character); strict takes the F1 over the whole answer.
        Case{"qa_chn", "", "答案是北京", R"("北京")", 1.0 / 3, 4.0 / 7},
        Case{"qa_chn", "", "北京。", R"("北京")", 2.0 / 3, 1},
        Case{"qa_chn", "", "上海", R"("北京")", 0, 0},
        // En.MultiChoice: upstream reads a leading A-D as the answer, so
        // "Based on..." is B.
        Case{"choice_eng", "", "C. Paris", R"(["Paris", "C"])", 1, 1},
        Case{"choice_eng", "", "Based on the text, the answer is C", R"(["Paris", "C"])", 0, 1},
        Case{"choice_eng", "", "Based on the text, the answer is C", R"(["Rome", "B"])", 1, 0},
        Case{"choice_eng", "", "The answer is: D", R"(["Oslo", "D"])", 1, 1},
        Case{"choice_eng", "", "Paris", R"(["Paris", "C"])", 1, 1},
        // Upstream finds no bare letter word in "(A)".
        Case{"choice_eng", "", "I think (A) is right", R"(["Lyon", "A"])", 0, 1},
        // Math.Find: first number; upstream ignores the sign.
        Case{"mf", "", "The answer is 93.", "93", 1, 1},
        Case{"mf", "", "-42", "-42", 0, 1},
        Case{"mf", "", "12.5", "12.5", 1, 1},
        // ICL.ManyShot: upstream matches any character of the gold string.
        Case{"many_shot", "", "The answer is (C)", "\"(A)\"", 1, 0},
        Case{"many_shot", "", "(A)", "\"(A)\"", 1, 1},
        Case{"many_shot", "", "B", "\"(B)\"", 1, 1},
        // Passkey (and Mix.Sum+NIAH's needles): the first digit run.
        Case{"passkey", "", "The pass key is 48213.", R"("48213")", 1, 1},
        Case{"summary_with_needles", "passkey", "Key 3: 48213", R"("48213")", 0, 0},
        Case{"summary_with_needles", "passkey", "48213", "48213", 1, 1},
        // En.Sum: ROUGE-Lsum F.
        Case{"summary", "", "the cat sat", R"("the cat sat on the mat")", 2.0 / 3, 2.0 / 3},
        Case{"summary_with_needles", "summary", "the cat sat", R"("the cat sat on the mat")", 2.0 / 3, 2.0 / 3},
        // Mix.RepoQA+KV's key-value turns: substring.
        Case{"repoqa_and_kv", "kv", "v1", R"("v1")", 1, 1}));

TEST(ScorerTest, RepoQaTurnsUseTheRepositoryNeedles) {
  const std::vector<RepoQaNeedle> needles = {{"add", "def add(x, y):\n    return x + y"},
                                             {"mul", "def mul(x, y):\n    return x * y"}};
  TurnToScore t;
  t.task = "repoqa";
  t.prediction = "```\ndef mul(x, y):\n    return x * y\n```";
  t.func_name = "mul";
  t.needles = &needles;
  EXPECT_EQ(ScoreScbenchTurn(ScorerVariant::kScbench, t), 1.0);
  t.func_name = "add";
  EXPECT_EQ(ScoreScbenchTurn(ScorerVariant::kStrict, t), 0.0);
  t.task = "repoqa_and_kv";
  t.subtask = "repoqa";
  t.func_name = "mul";
  EXPECT_EQ(ScoreScbenchTurn(ScorerVariant::kScbench, t), 1.0);
}

TEST(ScorerTest, StrictChoiceUsesAllOptions) {
  TurnToScore t;
  t.task = "choice_eng";
  t.label = json::array({"North", "B"});
  t.options = {"South", "North", "East", "West"};
  t.prediction = "The knight rode North.";
  EXPECT_EQ(ScoreScbenchTurn(ScorerVariant::kStrict, t), 1.0);
  t.prediction = "Either South or North.";  // two options named: no answer
  EXPECT_EQ(ScoreScbenchTurn(ScorerVariant::kStrict, t), 0.0);
}

TEST(ScorerTest, VariantNamesAndLegacyEntryPoints) {
  EXPECT_EQ(*ParseScorerVariant("strict"), ScorerVariant::kStrict);
  EXPECT_EQ(ParseScorerVariant("loose").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_STREQ(ScorerVariantName(ScorerVariant::kScbench), "scbench");
  EXPECT_EQ(ScoreTurn("kv", "xx abc xx", "abc"), 1.0);
  EXPECT_EQ(SubstringMatch("abc", ""), 0.0);
}

}  // namespace
}  // namespace kvlab
