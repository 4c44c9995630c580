// The evaluator's pieces: job files, the Retr.KV generator, prompt pieces,
// summaries, and resumable job runs over the local services.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include "absl/strings/str_cat.h"
#include "engine/backend.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/compressor/compressor.h"
#include "services/decode/decode_worker.h"
#include "services/evaluator/job_paths.h"
#include "services/evaluator/job_runner.h"
#include "services/evaluator/local_evaluator.h"
#include "services/evaluator/prompt_builder.h"
#include "services/evaluator/report.h"
#include "services/evaluator/synthetic_kv.h"
#include "services/kvstore/kv_store.h"
#include "services/kvstore/tiered_store.h"
#include "services/prefill/prefiller.h"
#include "tests/util/test_util.h"

namespace kvlab {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;

TEST(JobSpecTest, ParsesAndCanonicalizes) {
  auto job = ParseJobSpec(json::parse(R"({"name": "j1", "tasks": [{"task": "kv", "sessions": 2, "turns": 3,
      "context_tokens": 300}], "methods": ["kv=full", "kv=full{dtype=f16}"], "modes": ["multi_request"]})"));
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->methods[0], "prefill=dense;kv=full;decode=none;prompt=none");
  EXPECT_EQ(job->methods[1], "prefill=dense;kv=full{dtype=f16};decode=none;prompt=none");
  ASSERT_EQ(job->modes.size(), 1u);
  EXPECT_EQ(job->tasks[0].turns, 3);
  auto again = ParseJobSpec(job->ToJson());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->ToJson(), job->ToJson());
}

TEST(JobSpecTest, ErrorsNameTheField) {
  struct Case {
    const char* doc;
    const char* field;
  } cases[] = {
      {R"({"tasks": []})", "tasks"},
      {R"({"tasks": [{"task": "nope"}]})", "tasks[0].task"},
      {R"({"tasks": [{"task": "kv", "turns": 0}]})", "tasks[0].turns"},
      {R"({"tasks": [{"task": "kv"}], "methods": ["kv=magic"]})", "methods[0]"},
      {R"({"tasks": [{"task": "kv"}], "modes": ["sideways"]})", "modes"},
      {R"({"tasks": [{"task": "kv"}], "colour": 1})", "colour"},
      {R"({"tasks": [{"task": "kv"}], "name": "a b"})", "name"},
  };
  for (const Case& c : cases) {
    auto job = ParseJobSpec(json::parse(c.doc));
    EXPECT_EQ(job.status().code(), absl::StatusCode::kInvalidArgument) << c.doc;
    EXPECT_THAT(job.status().message(), HasSubstr(c.field)) << c.doc;
  }
}

class EvaluatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_ = NewCpuBackend();
    model_ = std::move(*Model::Load(testing::FixtureDir("tiny-llama3"), *backend_));
    tokenizer_ = std::move(*Tokenizer::FromModelDir(testing::FixtureDir("tiny-llama3")));
    chat_ = *ChatTemplate::FromModelDir(testing::FixtureDir("tiny-llama3"));
    store_ = NewLocalKvStore();
    compressor_ = NewLocalCompressor();
    prefill_ = NewLocalPrefiller(model_.get(), tokenizer_.get(), compressor_.get(), store_.get());
    decode_ = NewLocalDecodeWorker(model_.get(), tokenizer_.get(), store_.get());
  }

  JobDeps Deps() { return JobDeps{prefill_.get(), {decode_.get()}, tokenizer_.get(), chat_, model_->config()}; }

  std::unique_ptr<Backend> backend_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::optional<ChatTemplate> chat_;
  std::unique_ptr<KvStore> store_;
  std::unique_ptr<Compressor> compressor_;
  std::unique_ptr<Prefiller> prefill_;
  std::unique_ptr<DecodeWorker> decode_;
};

TEST_F(EvaluatorTest, KvSamplesAreSeededSizedAndSpread) {
  KvTaskOptions opts;
  opts.context_tokens = 600;
  opts.turns = 4;
  auto a = GenerateKvSample(opts, *tokenizer_);
  auto b = GenerateKvSample(opts, *tokenizer_);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->context, b->context);
  opts.index = 1;
  auto c = GenerateKvSample(opts, *tokenizer_);
  EXPECT_NE(a->context, c->context);
  auto ids = tokenizer_->Encode(a->context, false);
  EXPECT_LE(ids->size(), 600u + 40u);  // the instruction line rides on top of the object
  EXPECT_GE(ids->size(), 450u);
  ASSERT_EQ(a->turns.size(), 4u);
  // Asked pairs are spread over the object (one per quarter) but asked in a
  // shuffled order: over a few samples, some order is not front to back.
  bool some_shuffled = false;
  for (int index = 0; index < 6; ++index) {
    opts.index = index;
    auto sample = GenerateKvSample(opts, *tokenizer_);
    ASSERT_TRUE(sample.ok());
    std::vector<size_t> at;
    for (const TaskTurn& t : sample->turns) {
      at.push_back(sample->context.find("\"" + t.answer + "\""));
      ASSERT_NE(at.back(), std::string::npos) << "gold value is in the context";
    }
    some_shuffled |= !std::is_sorted(at.begin(), at.end());
    std::sort(at.begin(), at.end());
    EXPECT_LT(at.front(), sample->context.size() / 3) << "sample " << index;
    EXPECT_GT(at.back(), sample->context.size() * 2 / 3) << "sample " << index;
  }
  EXPECT_TRUE(some_shuffled);
}

TEST_F(EvaluatorTest, PromptPiecesReassembleTheRenderedConversation) {
  KvTaskOptions opts;
  opts.context_tokens = 200;
  opts.turns = 3;
  TaskSample s = *GenerateKvSample(opts, *tokenizer_);
  auto p = BuildPrompts(s, *tokenizer_, chat_);
  ASSERT_TRUE(p.ok()) << p.status();
  auto text = [&](const std::vector<int32_t>& ids) { return *tokenizer_->Decode(ids, false); };
  for (size_t i = 0; i < s.turns.size(); ++i) {
    std::vector<ChatMessage> msgs = {{"user", s.context + s.query_separator + s.turns[i].input}};
    EXPECT_EQ(text(p->context) + text(p->queries[i]), *chat_->Render(msgs, true));
  }
  std::vector<ChatMessage> conv = {{"user", s.context + "\n\n" + s.turns[0].input},
                                   {"assistant", s.turns[0].answer},
                                   {"user", s.turns[1].input},
                                   {"assistant", s.turns[1].answer},
                                   {"user", s.turns[2].input}};
  EXPECT_EQ(text(p->first_turn) + text(p->appends[0]) + text(p->appends[1]), *chat_->Render(conv, true));

  auto plain = BuildPrompts(s, *tokenizer_, std::nullopt);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->context.front(), *tokenizer_->bos_id());
  EXPECT_EQ(text(plain->context) + text(plain->queries[2]),
            "<|begin_of_text|>" + s.context + s.query_separator + s.turns[2].input);
}

TEST(ReportTest, AggregatesPerTurnAndOverall) {
  std::vector<json> records;
  auto add = [&](const char* mode, int turn, double score, double bytes, double ratio) {
    records.push_back({{"task", "kv"}, {"method", "m"}, {"mode", mode}, {"turn", turn}, {"score", score},
                       {"entry_bytes", bytes}, {"compression_ratio", ratio}, {"ttft_ms", 10.0}});
  };
  add("multi_turn", 1, 1, 1 << 20, 2);
  add("multi_turn", 1, 0, 1 << 20, 2);
  add("multi_turn", 2, 1, 3 << 20, 4);
  add("multi_request", 1, 1, 1 << 20, 1);
  std::string md = SummaryMarkdown(records);
  // multi_turn: T1 = 50%, T2 = 100%, avg = 2/3, bytes = 5/3 MiB, ratio = 8/3.
  EXPECT_THAT(md, HasSubstr("| kv | `m` | multi_turn | 50.0 | 100.0 | 66.7 | 1.67 | 2.67 | 10.0 |"));
  EXPECT_THAT(md, HasSubstr("| kv | `m` | multi_request | 100.0 | – | 100.0 | 1.00 | 1.00 | 10.0 |"));
  std::string csv = SummaryCsv(records);
  EXPECT_THAT(csv, HasSubstr("kv,\"m\",multi_turn,0.5000,1.0000,0.6667,"));
}

TEST_F(EvaluatorTest, JobRunsBothModesAndResumesAfterInterruption) {
  JobSpec job = *ParseJobSpec(json::parse(R"({"name": "resume", "tasks": [{"task": "kv", "sessions": 3,
      "turns": 2, "context_tokens": 200}], "methods": ["kv=full"], "max_new_tokens": 6})"));
  testing::TempDir dir;
  std::atomic<bool> cancel{false};
  int64_t seen_total = 0;
  auto interrupted = RunJob(job, Deps(), dir.path(), [&](int64_t done, int64_t total) {
    seen_total = total;
    if (done > 0) cancel.store(true);  // stop after the first finished session
  }, cancel);
  EXPECT_EQ(interrupted.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(seen_total, 3 * 2 * 2);
  int partial_lines = 0;
  {
    std::ifstream in(dir.Join("results.jsonl"));
    std::string line;
    while (std::getline(in, line)) ++partial_lines;
  }
  EXPECT_GE(partial_lines, 2);
  EXPECT_LT(partial_lines, 12);
  EXPECT_EQ(partial_lines % 2, 0) << "only whole sessions are written";

  std::atomic<bool> no{false};
  int64_t first_done = -1;
  auto resumed = RunJob(job, Deps(), dir.path(), [&](int64_t done, int64_t) {
    if (first_done < 0) first_done = done;
  }, no);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(first_done, partial_lines);  // the finished sessions were not re-run
  ASSERT_EQ(resumed->records.size(), 12u);

  testing::TempDir fresh;
  auto clean = RunJob(job, Deps(), fresh.path(), [](int64_t, int64_t) {}, no);
  ASSERT_TRUE(clean.ok());
  for (size_t i = 0; i < 12; ++i) {
    EXPECT_EQ(clean->records[i]["prediction"], resumed->records[i]["prediction"]);
    EXPECT_EQ(clean->records[i]["unit"], resumed->records[i]["unit"]);
  }
  EXPECT_TRUE(std::filesystem::exists(dir.Join("summary.md")));
  EXPECT_TRUE(std::filesystem::exists(dir.Join("summary.csv")));

  JobSpec other = job;
  other.seed = 2;
  EXPECT_EQ(RunJob(other, Deps(), dir.path(), [](int64_t, int64_t) {}, no).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

// Entries corrupted on disk between two runs of a job: the rerun's decode
// finds the corruption (DATA_LOSS, quarantined), the unit is run again from a
// prefill that recomputes the entry, the answers equal the first run's and
// the records and summary count the recomputed entries.
TEST_F(EvaluatorTest, CorruptEntriesAreRecomputedTransparently) {
  testing::TempDir disk;
  TieredStoreOptions o;
  o.host_capacity_bytes = 0;  // every read comes from the disk files
  o.disk.dir = disk.Join("tier");
  o.disk.fsync = false;
  auto store = NewTieredKvStore(o);
  ASSERT_TRUE(store.ok()) << store.status();
  auto prefill = NewLocalPrefiller(model_.get(), tokenizer_.get(), compressor_.get(), store->get());
  auto decode = NewLocalDecodeWorker(model_.get(), tokenizer_.get(), store->get());
  JobDeps deps{prefill.get(), {decode.get()}, tokenizer_.get(), chat_, model_->config()};
  JobSpec job = *ParseJobSpec(json::parse(R"({"name": "heal", "tasks": [{"task": "kv", "sessions": 2,
      "turns": 2, "context_tokens": 160}], "methods": ["kv=full"], "modes": ["multi_request"],
      "max_new_tokens": 6})"));
  std::atomic<bool> no{false};
  testing::TempDir first_dir, second_dir;
  auto first = RunJob(job, deps, first_dir.path(), [](int64_t, int64_t) {}, no);
  ASSERT_TRUE(first.ok()) << first.status();
  int corrupted = 0;
  for (const auto& f : std::filesystem::directory_iterator(o.disk.dir)) {
    std::string bytes = testing::ReadFile(f.path().string());
    bytes[bytes.size() - 7] ^= 0x40;  // inside the last layer's payload
    testing::WriteFile(f.path().string(), bytes);
    ++corrupted;
  }
  ASSERT_EQ(corrupted, 2);
  auto second = RunJob(job, deps, second_dir.path(), [](int64_t, int64_t) {}, no);
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_EQ(second->records.size(), first->records.size());
  int recomputed = 0;
  for (size_t i = 0; i < first->records.size(); ++i) {
    EXPECT_EQ(second->records[i]["prediction"], first->records[i]["prediction"]);
    recomputed += second->records[i].value("recomputed_entries", 0);
  }
  EXPECT_EQ(recomputed, 4);  // 2 sessions x 2 turns, each record of a recomputed unit
  EXPECT_EQ((*store)->Quarantined().size(), 2u);
  EXPECT_NE(second->summary_markdown.find("Entries recomputed after corruption or loss: 2 of 2"), std::string::npos)
      << second->summary_markdown;
}

// A job whose method cannot run on the model is refused at SubmitJob with a
// sentence, not accepted and failed minutes later.
TEST_F(EvaluatorTest, JobsThatCannotRunOnTheModelAreRefusedAtSubmit) {
  JobDeps deps = Deps();
  deps.model = model_->config();
  testing::TempDir dir;
  LocalEvaluatorOptions options;
  options.jobs_dir = dir.path();
  auto evaluator = NewLocalEvaluator(deps, options);
  const int64_t head_dim = model_->config().head_dim;
  v1::SubmitJobRequest request;
  request.set_job_json(absl::StrCat(R"({"name": "nofit", "tasks": [{"task": "kv", "sessions": 1}], "methods": ["kv=full", "kv=flexgen{group=)",
                                    head_dim * 2, R"(}"]})"));
  auto refused = evaluator->SubmitJob(request);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << refused.status();
  EXPECT_NE(refused.status().message().find("flexgen"), std::string::npos) << refused.status();
  EXPECT_EQ(evaluator->ListJobs()->jobs_size(), 0);
}

// An evaluator that stops (or is killed) mid-job: the next one started on
// the same jobs directory lists the job again under its id and finishes it
// without running its finished sessions twice; a finished job is listed, not
// rerun.
TEST_F(EvaluatorTest, JobsSurviveAnEvaluatorRestart) {
  testing::TempDir dir;
  LocalEvaluatorOptions options;
  options.jobs_dir = dir.path();
  v1::SubmitJobRequest request;
  request.set_job_json(R"({"name": "restart", "tasks": [{"task": "kv", "sessions": 4, "turns": 2,
      "context_tokens": 160}], "methods": ["kv=full"], "max_new_tokens": 4})");
  std::string id, output_dir;
  {
    auto first = NewLocalEvaluator(Deps(), options);
    auto status = first->SubmitJob(request);
    ASSERT_TRUE(status.ok()) << status.status();
    id = status->job_id();
    output_dir = status->output_dir();
    // Watch until the first session is done, then stop the evaluator.
    ASSERT_TRUE(first->WatchJob(id, [](const v1::JobStatus& s) { return s.turns_done() == 0; }).ok());
  }
  auto second = NewLocalEvaluator(Deps(), options);
  auto listed = second->ListJobs();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->jobs_size(), 1);
  EXPECT_EQ(listed->jobs(0).job_id(), id);
  v1::JobStatus last;
  ASSERT_TRUE(second->WatchJob(id, [&](const v1::JobStatus& s) {
    last = s;
    return true;
  }).ok());
  EXPECT_EQ(last.state(), v1::JobStatus::SUCCEEDED) << last.error();
  EXPECT_EQ(last.turns_total(), 4 * 2 * 2);
  int lines = 0;
  std::ifstream in(output_dir + "/results.jsonl");
  for (std::string line; std::getline(in, line);) ++lines;
  EXPECT_EQ(lines, 4 * 2 * 2);  // no session twice
  second.reset();
  auto third = NewLocalEvaluator(Deps(), options);
  auto again = third->ListJobs();
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(again->jobs_size(), 1);
  EXPECT_EQ(again->jobs(0).state(), v1::JobStatus::SUCCEEDED);
}

// A job from the network reads task files only under the data directories
// and writes only under the jobs directory.
TEST(JobPathsTest, ConfinesOutputsAndTaskFiles) {
  testing::TempDir root;
  std::filesystem::create_directories(root.Join("data/sub"));
  std::filesystem::create_directories(root.Join("other"));
  testing::WriteFile(root.Join("data/sub/kv.jsonl"), "{}\n");
  testing::WriteFile(root.Join("other/secret.jsonl"), "{}\n");
  std::filesystem::create_symlink(root.Join("other"), root.Join("data/link"));

  EXPECT_EQ(*PathUnder(root.Join("jobs"), "a/b", "output_dir"), root.Join("jobs") + "/a/b");
  for (const char* bad : {"", "/tmp/x", "../x", "a/../../x"}) {
    EXPECT_EQ(PathUnder(root.Join("jobs"), bad, "output_dir").status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
  auto resolve = [&](const std::vector<std::string>& dirs, const std::string& file) {
    JobSpec job;
    job.tasks.push_back(TaskSpec{});
    job.tasks[0].file = file;
    absl::Status s = ResolveJobData(dirs, job);
    return std::make_pair(s, job.tasks[0].file);
  };
  auto [ok, path] = resolve({root.Join("nothing"), root.Join("data")}, "sub/kv.jsonl");
  ASSERT_TRUE(ok.ok()) << ok;
  EXPECT_EQ(path, std::filesystem::canonical(root.Join("data/sub/kv.jsonl")).string());
  EXPECT_EQ(resolve({root.Join("data")}, "missing.jsonl").first.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(resolve({root.Join("data")}, "link/secret.jsonl").first.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(resolve({root.Join("data")}, root.Join("data/sub/kv.jsonl")).first.code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(resolve({}, "sub/kv.jsonl").first.code(), absl::StatusCode::kInvalidArgument);
}

// Resubmitting a job (the documented way to resume one) while the first
// submission still runs: each gets its own id, neither replaces the other,
// and the evaluator survives (a replaced job's joinable thread aborted it).
TEST_F(EvaluatorTest, ResubmittedJobsGetTheirOwnIdsAndAllRun) {
  testing::TempDir dir;
  LocalEvaluatorOptions options;
  options.jobs_dir = dir.path();
  auto evaluator = NewLocalEvaluator(Deps(), options);
  v1::SubmitJobRequest request;
  request.set_job_json(R"({"name": "again", "tasks": [{"task": "kv", "sessions": 1, "turns": 1,
      "context_tokens": 120}], "methods": ["kv=full"], "max_new_tokens": 4})");
  std::set<std::string> ids;
  for (int i = 0; i < 4; ++i) {
    request.set_output_dir(absl::StrCat("run", i));
    auto status = evaluator->SubmitJob(request);
    ASSERT_TRUE(status.ok()) << status.status();
    EXPECT_EQ(status->job_id().rfind("again-", 0), 0u) << status->job_id();
    ids.insert(status->job_id());
  }
  EXPECT_EQ(ids.size(), 4u);
  for (const std::string& id : ids) {
    ASSERT_TRUE(evaluator->WatchJob(id, [](const v1::JobStatus&) { return true; }).ok());
  }
  auto list = evaluator->ListJobs();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->jobs_size(), 4);
  for (const auto& j : list->jobs()) EXPECT_EQ(j.state(), v1::JobStatus::SUCCEEDED) << j.job_id() << j.error();
}

}  // namespace
}  // namespace kvlab
