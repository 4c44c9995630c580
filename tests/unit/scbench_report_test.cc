// Ability aggregation (SCBench Table 4) against a hand-computed example, the
// budget parsing of method specs, and report.html rendered in headless
// Chromium.
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/evaluator/abilities.h"
#include "services/evaluator/report.h"
#include "services/evaluator/report_html.h"
#include "tests/util/test_util.h"

namespace kvlab {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;

json Rec(const std::string& method, const std::string& mode, const std::string& task, const std::string& subtask,
         int turn, double score, double bytes = 1 << 20) {
  json r = {{"method", method}, {"mode", mode}, {"task", task}, {"turn", turn}, {"score", score},
            {"score_strict", score / 2}, {"entry_bytes", bytes}, {"ttft_ms", 5.0}, {"compression_ratio", 1.0}};
  if (!subtask.empty()) r["subtask"] = subtask;
  return r;
}

std::vector<json> Example() {
  const std::string m = "prefill=dense;kv=full;decode=none;prompt=none";
  return {Rec(m, "multi_turn", "kv", "", 1, 1), Rec(m, "multi_turn", "kv", "", 2, 0),
          Rec(m, "multi_turn", "vt", "", 1, 1), Rec(m, "multi_turn", "qa_eng", "", 1, 0),
          Rec(m, "multi_turn", "summary_with_needles", "summary", 1, 0.4),
          Rec(m, "multi_turn", "summary_with_needles", "passkey", 2, 1),
          Rec(m, "multi_turn", "summary_with_needles", "passkey", 3, 1), Rec(m, "multi_turn", "passkey", "", 1, 1)};
}

TEST(AbilitiesTest, MatchesHandComputedExample) {
  auto rows = AggregateAbilities(Example());
  ASSERT_EQ(rows.size(), 1u);
  const MethodModeScores& r = rows[0];
  EXPECT_DOUBLE_EQ(r.tasks.at("kv"), 0.5);
  EXPECT_DOUBLE_EQ(r.tasks.at("summary_with_needles"), 0.7);  // (0.4 + mean(1, 1)) / 2
  EXPECT_DOUBLE_EQ(r.abilities.at("String Retrieval"), 0.75);  // (0.5 + 1) / 2
  EXPECT_DOUBLE_EQ(r.abilities.at("Semantic Retrieval"), 0.0);
  EXPECT_DOUBLE_EQ(r.abilities.at("Multi-task"), 0.7);
  EXPECT_EQ(r.abilities.count("Global Information"), 0u);
  EXPECT_NEAR(r.avg, (0.75 + 0.0 + 0.7) / 3, 1e-12);  // passkey is outside the four abilities
  const std::string md = AbilitiesMarkdown(Example());
  EXPECT_THAT(md, HasSubstr("| method | mode | String Retrieval | Semantic Retrieval | Multi-task | AVG | Retr.KV |"));
  EXPECT_THAT(md, HasSubstr("| multi_turn | 75.0 | 0.0 | 70.0 | 48.3 | 50.0 |"));
  EXPECT_THAT(AbilitiesMarkdown(Example(), "score_strict"), HasSubstr("| multi_turn | 37.5 | 0.0 | 35.0 | 24.2 |"));
  EXPECT_THAT(AbilitiesCsv(Example()), HasSubstr(",multi_turn,0.7500,0.0000,0.7000,0.4833,0.5000,"));
}

TEST(ReportHtmlTest, ParsesPolicyAndBudget) {
  EXPECT_EQ(MethodPolicy("prefill=dense;kv=snapkv{window=32,capacity=1024};decode=none"), "snapkv");
  EXPECT_EQ(*MethodBudget("prefill=dense;kv=snapkv{window=32,capacity=1024};decode=none"), 1024);
  EXPECT_EQ(*MethodBudget("kv=streamingllm{n_sink=128,n_recent=896}"), 1024);
  EXPECT_DOUBLE_EQ(*MethodBudget("kv=h2o{heavy=64,ratio=0.25}"), 0.25);
  EXPECT_FALSE(MethodBudget("prefill=dense;kv=full;decode=none").has_value());
  EXPECT_EQ(MethodPolicy("prefill=dense"), "full");
}

std::vector<json> ChartRecords() {
  std::vector<json> out;
  for (int cap : {256, 512, 1024}) {
    const std::string m = "prefill=dense;kv=snapkv{capacity=" + std::to_string(cap) + "};decode=none;prompt=none";
    for (const char* mode : {"multi_turn", "multi_request"}) {
      for (int t = 1; t <= 3; ++t) out.push_back(Rec(m, mode, "kv", "", t, cap / 1024.0 / t, cap * 1000.0));
    }
  }
  out.push_back(Rec("prefill=dense;kv=full;decode=none;prompt=none", "multi_turn", "kv", "", 1, 1, 4 << 20));
  return out;
}

TEST(ReportHtmlTest, IsSelfContainedWithCharts) {
  const std::string html = ReportHtml("job <1>", ChartRecords());
  EXPECT_THAT(html, HasSubstr("<title>job &lt;1&gt;</title>"));
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("http://"), html.find("http://www.w3.org/2000/svg"));  // no external resources
  EXPECT_THAT(html, HasSubstr("Score per turn — multi_turn"));
  EXPECT_THAT(html, HasSubstr("Score vs budget"));
  EXPECT_THAT(html, HasSubstr("Score vs KV entry size"));
}

int Count(const std::string& s, const std::string& what) {
  int n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

// Renders report.html in Debian's headless Chromium: the DOM it builds must
// hold the charts with drawn series; the screenshot stays in the build tree.
TEST(ReportHtmlTest, RendersInHeadlessChromium) {
  if (std::system("command -v chromium > /dev/null 2>&1") != 0) {
    FAIL() << "chromium is not installed: this test renders report.html in headless Chromium. Install Debian's "
              "'chromium' package (tools/setup.sh should install it).";
  }
  testing::TempDir dir;
  const std::string page = dir.Join("report.html");
  testing::WriteFile(page, ReportHtml("chromium check", ChartRecords()));
  const std::string flags =
      "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking "
      "--disable-component-update --disable-sync --user-data-dir=" + dir.Join("profile");
  const std::string dom_path = dir.Join("dom.html");
  const std::string dump = "chromium " + flags + " --dump-dom file://" + page + " > " + dom_path + " 2> " +
                           dir.Join("chromium.log");
  ASSERT_EQ(std::system(dump.c_str()), 0) << testing::ReadFile(dir.Join("chromium.log"));
  const std::string dom = testing::ReadFile(dom_path);
  EXPECT_EQ(Count(dom, "<svg"), 4) << "per-turn (2 modes), budget and bytes charts";
  EXPECT_GE(Count(dom, "class=\"series\""), 4);  // 2 + 2 policy/mode lines... at least
  EXPECT_GE(Count(dom, "<circle"), 10);
  EXPECT_GE(Count(dom, "<path"), 4);
  EXPECT_THAT(dom, HasSubstr("Score vs budget"));
  // Keep a screenshot next to the test binary as an artifact.
  const std::string shot = (std::filesystem::current_path() / "scbench_report.png").string();
  const std::string screenshot = "chromium " + flags + " --screenshot=" + shot +
                                 " --window-size=1200,2000 file://" + page + " > /dev/null 2>&1";
  ASSERT_EQ(std::system(screenshot.c_str()), 0);
  ASSERT_TRUE(std::filesystem::exists(shot));
  EXPECT_GT(std::filesystem::file_size(shot), 10000u) << "a blank page compresses to a few KB";
}

}  // namespace
}  // namespace kvlab
