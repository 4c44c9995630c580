// SCBench data: the upstream-file loader over fixtures of every task shape,
// the synthetic generators, job files naming both, and a job run in the
// model-answer mode over the local services.
#include <algorithm>
#include <filesystem>
#include <fstream>

#include "engine/backend.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/compressor/compressor.h"
#include "services/decode/decode_worker.h"
#include "services/evaluator/job_runner.h"
#include "services/evaluator/job_spec.h"
#include "services/evaluator/prompt_builder.h"
#include "services/evaluator/scbench_loader.h"
#include "services/evaluator/scbench_tasks.h"
#include "services/evaluator/synthetic_tasks.h"
#include "services/kvstore/kv_store.h"
#include "services/prefill/prefiller.h"
#include "tests/util/test_util.h"

namespace kvlab {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;

std::string Fixture(const std::string& task) {
  return testing::SourceDir() + "/tests/unit/data/scbench/scbench_" + task + ".jsonl";
}

TEST(ScbenchLoaderTest, LoadsEveryTaskShape) {
  for (const char* task : {"kv", "prefix_suffix", "vt", "repoqa", "qa_eng", "qa_chn", "choice_eng", "mf",
                           "many_shot", "summary", "summary_with_needles", "repoqa_and_kv"}) {
    EXPECT_EQ(ScbenchTaskFromFileName(Fixture(task)), task);
    auto samples = LoadScbenchFile(Fixture(task), task, {});
    ASSERT_TRUE(samples.ok()) << task << ": " << samples.status();
    ASSERT_EQ(samples->size(), 1u) << task;
    const TaskSample& s = samples->front();
    EXPECT_EQ(s.task, task);
    EXPECT_EQ(s.id, std::string(task) + "-0");
    EXPECT_EQ(s.query_separator, "");
    ASSERT_FALSE(s.turns.empty());
    EXPECT_EQ(s.max_new_tokens, FindScbenchTask(task)->max_new_tokens);
    for (const TaskTurn& t : s.turns) {
      EXPECT_FALSE(t.input.empty());
      EXPECT_FALSE(t.label.is_null());
    }
  }
}

TEST(ScbenchLoaderTest, AppliesTheHarnessTemplates) {
  auto kv = LoadScbenchFile(Fixture("kv"), "kv", {});
  EXPECT_THAT(kv->front().context, ::testing::StartsWith("Extract the value corresponding to the specified key"));

  auto qa = LoadScbenchFile(Fixture("qa_eng"), "qa_eng", {});
  EXPECT_EQ(qa->front().turns[0].input, "Question: Where did Alice go?\nAnswer:");
  EXPECT_EQ(qa->front().turns[0].label, json::array({"Paris"}));
  EXPECT_EQ(qa->front().turns[0].answer, "Paris");

  auto choice = LoadScbenchFile(Fixture("choice_eng"), "choice_eng", {});
  const TaskTurn& c = choice->front().turns[0];
  EXPECT_EQ(c.input, "Question: Where did the knight ride?\nA. South\nB. North\nC. East\nD. West\n\n"
                     "The the correct answer is");
  EXPECT_EQ(c.label, json::array({"North", "B"}));
  EXPECT_EQ(c.options.size(), 4u);

  auto vt = LoadScbenchFile(Fixture("vt"), "vt", {});
  EXPECT_EQ(vt->front().turns[0].label, json::array({"AAAAA", "BBBBB"}));
  EXPECT_EQ(vt->front().turns[0].answer, "['AAAAA', 'BBBBB']");  // str(list), as fed back upstream

  auto mf = LoadScbenchFile(Fixture("mf"), "mf", {});
  const TaskSample& m = mf->front();
  EXPECT_EQ(m.first_turn_context, "What is the largest number of the list?\n\n[12, 7, 93, 41, 5]");
  EXPECT_THAT(m.context, ::testing::StartsWith("You should answer with only one number"));
  EXPECT_THAT(m.context, ::testing::EndsWith("\n\n[12, 7, 93, 41, 5]"));
  EXPECT_THAT(m.turns[1].input, ::testing::StartsWith("What is the smallest number of the list?\n\nYou should"));
  EXPECT_EQ(m.turns[0].label, 93);
  EXPECT_EQ(m.turns[0].answer, "93");

  auto repo = LoadScbenchFile(Fixture("repoqa"), "repoqa", {});
  EXPECT_EQ(repo->front().lang, "python");
  EXPECT_EQ(repo->front().repo, "tiny/repo");
  EXPECT_EQ(repo->front().turns[1].name, "mul");

  auto mix = LoadScbenchFile(Fixture("summary_with_needles"), "summary_with_needles", {});
  EXPECT_EQ(mix->front().turns[0].task, "summary");
  EXPECT_EQ(mix->front().turns[0].max_new_tokens, 800);
  EXPECT_EQ(mix->front().turns[1].task, "passkey");
  EXPECT_EQ(mix->front().turns[1].max_new_tokens, 15);
  auto rkv = LoadScbenchFile(Fixture("repoqa_and_kv"), "repoqa_and_kv", {});
  EXPECT_EQ(rkv->front().turns[0].name, "add");
  EXPECT_EQ(rkv->front().turns[1].max_new_tokens, 80);

  auto chn = LoadScbenchFile(Fixture("qa_chn"), "qa_chn", {});
  EXPECT_EQ(chn->front().turns[0].input, "问题：小明住在哪里？\n答案：");

  ScbenchLoadOptions one;
  one.max_turns = 1;
  EXPECT_EQ(LoadScbenchFile(Fixture("summary"), "summary", one)->front().turns.size(), 1u);
}

TEST(ScbenchLoaderTest, ErrorsNameFileLineAndField) {
  testing::TempDir dir;
  struct Case {
    const char* task;
    const char* line;
    const char* field;
  } cases[] = {
      {"kv", R"({"id": 0, "multi_turns": [{"input": "q", "answer": "a"}]})", "context"},
      {"kv", R"({"id": 0, "context": "c", "multi_turns": []})", "multi_turns"},
      {"kv", R"({"id": 0, "context": "c", "multi_turns": [{"answer": "a"}]})", "multi_turns[0].input"},
      {"kv", R"({"id": 0, "context": "c", "multi_turns": [{"input": "q", "answer": {"x": 1}}]})",
       "multi_turns[0].answer"},
      {"choice_eng", R"({"id": 0, "context": "c", "multi_turns": [{"input": "q", "answer": "a", "options": ["a"]}]})",
       "multi_turns[0].options"},
      {"choice_eng",
       R"({"id": 0, "context": "c", "multi_turns": [{"input": "q", "answer": "z", "options": ["a","b","c","d"]}]})",
       "multi_turns[0].answer"},
      {"repoqa", R"({"id": 0, "context": "c", "lang": "python", "multi_turns": [{"input": "q", "answer": "a"}]})",
       "repo"},
      {"repoqa", R"({"id": 0, "context": "c", "lang": "py", "repo": "r", "multi_turns": [{"input": "q", "answer": "a"}]})",
       "multi_turns[0].name"},
      {"summary_with_needles",
       R"({"id": 0, "context": "c", "multi_turns": [{"input": "q", "answer": "a", "task": "scbench_kv"}]})",
       "multi_turns[0].task"},
      {"mf", R"({"id": 0, "context": [1, "x"], "multi_turns": [{"input": "The max is", "answer": 1}]})", "context"},
      {"mf", R"({"id": 0, "context": [1, 2], "multi_turns": [{"input": "The max is", "answer": "one"}]})",
       "multi_turns[0].answer"},
      {"kv", R"({"id": 0, "context": "c", "multi_turns": [)", "not valid JSON"},
  };
  for (const Case& c : cases) {
    const std::string path = dir.Join(std::string("scbench_") + c.task + ".jsonl");
    const std::string answer = std::string(c.task) == "mf" ? "1" : "\"1\"";
    const std::string good = R"({"id": 9, "context": "ok", "lang": "l", "repo": "r", "multi_turns": [{"input": "The q is", )"
                             R"("options": ["1", "b", "c", "d"], "name": "n", "task": "scbench_summary", "answer": )" +
                             answer + "}]}";
    testing::WriteFile(path, good + "\n\n" + c.line + "\n");
    auto loaded = LoadScbenchFile(path, c.task, {});
    ASSERT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument) << c.line;
    EXPECT_THAT(loaded.status().message(), HasSubstr(path + ":3: ")) << c.line;
    EXPECT_THAT(loaded.status().message(), HasSubstr(c.field)) << c.line;
  }
  EXPECT_EQ(LoadScbenchFile(dir.Join("missing.jsonl"), "kv", {}).status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(LoadScbenchFile(Fixture("kv"), "nope", {}).status().message(), HasSubstr("not an SCBench task"));
}

class ScbenchSyntheticTest : public ::testing::Test {
 protected:
  void SetUp() override { tokenizer_ = std::move(*Tokenizer::FromModelDir(testing::FixtureDir("tiny-llama3"))); }
  std::unique_ptr<Tokenizer> tokenizer_;
};

TEST_F(ScbenchSyntheticTest, GeneratorsAreSeededSizedAndHoldTheirAnswers) {
  for (const char* task : {"kv", "prefix_suffix", "vt", "mf", "passkey", "summary_with_needles", "repoqa_and_kv"}) {
    SyntheticOptions o;
    o.context_tokens = 700;
    o.turns = 3;
    o.source_dir = testing::SourceDir();
    auto a = GenerateSyntheticSample(task, o, *tokenizer_);
    ASSERT_TRUE(a.ok()) << task << ": " << a.status();
    auto b = GenerateSyntheticSample(task, o, *tokenizer_);
    EXPECT_EQ(a->context, b->context) << task;
    o.index = 1;
    EXPECT_NE(GenerateSyntheticSample(task, o, *tokenizer_)->context, a->context) << task;
    const size_t tokens = tokenizer_->Encode(a->context, false)->size();
    EXPECT_LE(tokens, 700u + 100u) << task;  // the template's instruction rides on top
    EXPECT_GE(tokens, 400u) << task;
    ASSERT_EQ(a->turns.size(), 3u) << task;
    // Every gold answer is in the context. Targets are spread over it, and
    // (except mf, whose questions differ) asked in a shuffled order: over a
    // few samples, some order is not front to back.
    bool some_shuffled = false;
    for (int index = 0; index < 6; ++index) {
      o.index = index;
      auto sample = GenerateSyntheticSample(task, o, *tokenizer_);
      ASSERT_TRUE(sample.ok()) << task << ": " << sample.status();
      std::vector<size_t> firsts;
      for (size_t t = 0; t < sample->turns.size(); ++t) {
        const TaskTurn& turn = sample->turns[t];
        std::vector<std::string> golds;
        if (turn.label.is_array()) {
          golds = turn.label.get<std::vector<std::string>>();
        } else {
          golds = {turn.label.is_string() ? turn.label.get<std::string>() : turn.label.dump()};
        }
        for (const std::string& g : golds) {
          if (std::string(task) == "mf" && t == 2) continue;  // the median is anywhere
          const size_t at = sample->context.find(g);
          ASSERT_NE(at, std::string::npos) << task << " turn " << t << ": " << g;
          if (g == golds.front()) firsts.push_back(at);
        }
      }
      if (std::string(task) == "mf") continue;
      some_shuffled |= !std::is_sorted(firsts.begin(), firsts.end());
      // The training curriculum's ordered variant: targets asked front to back.
      SyntheticOptions ordered = o;
      ordered.ordered_questions = true;
      auto in_order = GenerateSyntheticSample(task, ordered, *tokenizer_);
      ASSERT_TRUE(in_order.ok()) << task << ": " << in_order.status();
      std::vector<size_t> ordered_firsts;
      for (const TaskTurn& turn : in_order->turns) {
        const std::string g = turn.label.is_array() ? turn.label[0].get<std::string>()
                              : turn.label.is_string() ? turn.label.get<std::string>()
                                                       : turn.label.dump();
        ordered_firsts.push_back(in_order->context.find(g));
      }
      EXPECT_TRUE(std::is_sorted(ordered_firsts.begin(), ordered_firsts.end())) << task;
      std::sort(firsts.begin(), firsts.end());
      EXPECT_LT(firsts.front(), sample->context.size() / 2) << task;
      EXPECT_GT(firsts.back(), sample->context.size() / 2) << task;
    }
    if (std::string(task) != "mf") {
      EXPECT_TRUE(some_shuffled) << task;
    }
  }
  SyntheticOptions o;
  EXPECT_EQ(GenerateSyntheticSample("qa_eng", o, *tokenizer_).status().code(), absl::StatusCode::kInvalidArgument);
  o.source_dir = "/nonexistent";
  EXPECT_EQ(GenerateSyntheticSample("repoqa_and_kv", o, *tokenizer_).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(ScbenchSyntheticTest, MixedTasksTagTheirTurns) {
  SyntheticOptions o;
  o.context_tokens = 1200;
  o.turns = 2;
  o.source_dir = testing::SourceDir();
  auto needles = GenerateSyntheticSample("summary_with_needles", o, *tokenizer_);
  EXPECT_EQ(needles->turns[0].task, "passkey");
  EXPECT_EQ(needles->turns[0].max_new_tokens, 15);
  auto rkv = GenerateSyntheticSample("repoqa_and_kv", o, *tokenizer_);
  EXPECT_EQ(rkv->turns[1].task, "kv");
  EXPECT_EQ(rkv->turns[1].max_new_tokens, 80);
  EXPECT_THAT(rkv->context, HasSubstr("// JSON data: {"));
  // The haystack is code from the source tree: every kept line holds C++ tokens.
  EXPECT_THAT(rkv->context, ::testing::ContainsRegex("[;{}]\n"));
}

TEST(ScbenchJobSpecTest, ParsesFilesModesAndScorer) {
  auto job = ParseJobSpec(json::parse(R"({"name": "j", "tasks": [{"task": "qa_eng", "file": "x/scbench_qa_eng.jsonl",
      "sessions": 2}, {"task": "repoqa_and_kv", "source_dir": "/src", "context_tokens": 500}],
      "modes": ["multi_turn_model", "multi_request"], "scorer": "strict"})"));
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->tasks[0].file, "x/scbench_qa_eng.jsonl");
  EXPECT_EQ(job->tasks[0].turns, 0);
  EXPECT_EQ(job->tasks[1].source_dir, "/src");
  EXPECT_EQ(job->modes[0], SharedContextMode::kMultiTurnModel);
  EXPECT_EQ(job->scorer, ScorerVariant::kStrict);
  EXPECT_EQ(ParseJobSpec(job->ToJson())->ToJson(), job->ToJson());
  struct Case {
    const char* doc;
    const char* field;
  } cases[] = {
      {R"({"tasks": [{"task": "qa_eng"}]})", "tasks[0].file"},
      {R"({"tasks": [{"task": "kv", "file": 3}]})", "tasks[0].file"},
      {R"({"tasks": [{"task": "kv", "colour": 3}]})", "tasks[0].colour"},
      {R"({"tasks": [{"task": "kv"}], "scorer": "loose"})", "scorer"},
  };
  for (const Case& c : cases) {
    auto bad = ParseJobSpec(json::parse(c.doc));
    EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << c.doc;
    EXPECT_THAT(bad.status().message(), HasSubstr(c.field)) << c.doc;
  }
}

TEST(ScbenchPromptTest, ModelAnswerAppendsCarryOnlyTheQuestion) {
  auto tokenizer = std::move(*Tokenizer::FromModelDir(testing::FixtureDir("tiny-llama3")));
  auto chat = ChatTemplate::FromModelDir(testing::FixtureDir("tiny-llama3"));
  TaskSample s = LoadScbenchFile(Fixture("qa_eng"), "qa_eng", {})->front();
  auto p = BuildPrompts(s, *tokenizer, *chat);
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_EQ(p->appends_model.size(), 1u);
  const std::string gold = *tokenizer->Decode(p->appends[0], false);
  const std::string model = *tokenizer->Decode(p->appends_model[0], false);
  EXPECT_EQ(gold, s.turns[0].answer + model);
  EXPECT_THAT(model, HasSubstr("Question: Whom did she meet?"));
  // Multi-request joins context and query directly, as the harness does.
  std::vector<ChatMessage> msgs = {{"user", s.context + s.turns[1].input}};
  EXPECT_EQ(*tokenizer->Decode(p->context, false) + *tokenizer->Decode(p->queries[1], false),
            *chat->Render(msgs, true));
}

TEST(ScbenchRunTest, RunsFileAndSyntheticTasksInAllModes) {
  auto backend = NewCpuBackend();
  auto model = std::move(*Model::Load(testing::FixtureDir("tiny-llama3"), *backend));
  auto tokenizer = std::move(*Tokenizer::FromModelDir(testing::FixtureDir("tiny-llama3")));
  auto chat = *ChatTemplate::FromModelDir(testing::FixtureDir("tiny-llama3"));
  auto store = NewLocalKvStore();
  auto compressor = NewLocalCompressor();
  auto prefill = NewLocalPrefiller(model.get(), tokenizer.get(), compressor.get(), store.get());
  auto decode = NewLocalDecodeWorker(model.get(), tokenizer.get(), store.get());
  JobDeps deps{prefill.get(), {decode.get()}, tokenizer.get(), chat, model->config()};
  json doc = {{"name", "scb"},
              {"tasks", {{{"task", "repoqa"}, {"file", Fixture("repoqa")}, {"sessions", 1}},
                         {{"task", "passkey"}, {"sessions", 1}, {"turns", 2}, {"context_tokens", 150}}}},
              {"methods", {"kv=full"}},
              {"modes", {"multi_turn", "multi_turn_model", "multi_request"}},
              {"max_new_tokens", 3}};
  JobSpec job = *ParseJobSpec(doc);
  testing::TempDir dir;
  std::atomic<bool> no{false};
  auto out = RunJob(job, deps, dir.path(), [](int64_t, int64_t) {}, no);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->records.size(), 2u * 3 + 2u * 3);
  for (const json& r : out->records) {
    for (const char* key : {"prediction", "gold", "score", "score_scbench", "score_strict", "ttft_ms",
                            "decode_tokens_per_s", "entry_bytes", "kept_tokens", "compression_ratio"}) {
      EXPECT_TRUE(r.contains(key)) << key;
    }
  }
  for (const char* f : {"results.jsonl", "summary.md", "summary.csv", "abilities.csv", "report.html"}) {
    EXPECT_TRUE(std::filesystem::exists(dir.Join(f))) << f;
  }
  EXPECT_THAT(testing::ReadFile(dir.Join("summary.md")), HasSubstr("multi_turn_model"));
}

}  // namespace
}  // namespace kvlab
