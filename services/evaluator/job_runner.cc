#include "services/evaluator/job_runner.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/json_file.h"
#include "common/status_macros.h"
#include "services/common/request_context.h"
#include "kvcache/codec_spec.h"
#include "kvcache/method_spec.h"
#include "services/evaluator/prompt_builder.h"
#include "services/evaluator/report.h"
#include "services/evaluator/report_html.h"
#include "services/evaluator/scbench_loader.h"
#include "services/evaluator/scbench_scorers.h"
#include "services/evaluator/synthetic_tasks.h"
#include "spdlog/spdlog.h"

namespace kvlab {
namespace {

using nlohmann::json;

// One session to run: a sample under one method in one mode.
struct Unit {
  int64_t index = 0;
  std::string key;  // identifies the unit in results.jsonl
  const TaskSample* sample = nullptr;
  const PromptPieces* pieces = nullptr;
  std::string method;
  SharedContextMode mode = SharedContextMode::kMultiRequest;
  const std::vector<RepoQaNeedle>* needles = nullptr;  // RepoQA: the repository's functions
};

v1::TokenIds* Tokens(v1::Content* content, const std::vector<int32_t>& ids) {
  v1::TokenIds* t = content->mutable_tokens();
  t->mutable_ids()->Assign(ids.begin(), ids.end());
  return t;
}

json Record(const JobSpec& job, const Unit& u, const std::string& model, int turn, const std::string& prediction,
            const v1::Timings& t, const v1::Usage& usage, int64_t generated) {
  const TaskTurn& gold = u.sample->turns[turn - 1];
  TurnToScore score;
  score.task = u.sample->task;
  score.subtask = gold.task;
  score.prediction = prediction;
  score.label = gold.label.is_null() ? json(gold.answer) : gold.label;
  score.func_name = gold.name;
  score.needles = u.needles;
  score.gold_code = gold.answer;
  score.options = gold.options;
  const double scbench = ScoreScbenchTurn(ScorerVariant::kScbench, score);
  const double strict = ScoreScbenchTurn(ScorerVariant::kStrict, score);
  json r;
  r["job"] = job.name;
  r["unit"] = u.key;
  r["task"] = u.sample->task;
  if (!gold.task.empty()) r["subtask"] = gold.task;
  r["sample"] = u.sample->id;
  r["method"] = u.method;
  r["mode"] = ModeName(u.mode);
  r["turn"] = turn;
  r["prediction"] = prediction;
  r["gold"] = score.label;
  r["scorer"] = ScorerVariantName(job.scorer);
  r["score"] = job.scorer == ScorerVariant::kScbench ? scbench : strict;
  r["score_scbench"] = scbench;
  r["score_strict"] = strict;
  r["ttft_ms"] = t.ttft_ms();
  r["decode_tokens_per_s"] = generated > 1 && t.decode_ms() > 0 ? (generated - 1) / (t.decode_ms() / 1000.0) : 0.0;
  r["generated_tokens"] = generated;
  r["context_tokens"] = usage.context_tokens();
  r["entry_bytes"] = usage.entry_bytes();
  r["prefill_backend"] = usage.prefill_backend();
  r["decode_backend"] = usage.decode_backend();
  r["kept_tokens"] = usage.kept_tokens();
  r["total_tokens"] = usage.total_tokens();
  r["model"] = model;
  r["compression_ratio"] =
      usage.entry_bytes() > 0 ? static_cast<double>(usage.full_f16_bytes()) / usage.entry_bytes() : 0.0;
  return r;
}

int MaxNewTokens(const JobSpec& job, const TaskSample& s, int turn) {
  if (job.max_new_tokens > 0) return job.max_new_tokens;
  const int per_turn = s.turns[turn - 1].max_new_tokens;
  return per_turn > 0 ? per_turn : s.max_new_tokens;
}

absl::StatusOr<std::vector<json>> RunUnit(const JobSpec& job, const JobDeps& deps, const Unit& u,
                                          const std::atomic<bool>& cancelled) {
  DecodeWorker& worker = *deps.workers[u.index % deps.workers.size()];
  std::vector<json> records;
  v1::PrefillRequest prefill;
  prefill.set_request_id(NewRequestId());
  prefill.set_method_spec(u.method);
  const bool multi_turn = u.mode != SharedContextMode::kMultiRequest;
  const bool model_answers = u.mode == SharedContextMode::kMultiTurnModel;
  Tokens(prefill.mutable_context(), multi_turn ? u.pieces->first_turn : u.pieces->context);
  KVLAB_ASSIGN_OR_RETURN(v1::PrefillResponse handle, deps.prefill->Prefill(prefill));

  const int turns = static_cast<int>(u.sample->turns.size());
  if (!multi_turn) {
    for (int t = 1; t <= turns; ++t) {
      if (cancelled.load()) return absl::CancelledError("job cancelled");
      v1::AnswerRequest req;
      req.set_request_id(NewRequestId());
      *req.mutable_handle() = handle.handle();
      Tokens(req.mutable_query(), u.pieces->queries[t - 1]);
      req.mutable_generation()->set_max_new_tokens(MaxNewTokens(job, *u.sample, t));
      KVLAB_ASSIGN_OR_RETURN(v1::AnswerResponse r, worker.Answer(req));
      v1::Timings timings = r.timings();
      if (t == 1 && !handle.cache_hit()) timings.set_ttft_ms(timings.ttft_ms() + handle.timings().total_ms());
      records.push_back(Record(job, u, handle.handle().model_fingerprint(), t, r.text(), timings, r.usage(), r.tokens().ids_size()));
    }
    return records;
  }
  const std::string session = absl::StrCat(job.name, "-u", u.index, "-", NewRequestId());
  for (int t = 1; t <= turns; ++t) {
    if (cancelled.load()) {
      (void)worker.CloseSession(session);
      return absl::CancelledError("job cancelled");
    }
    v1::TurnRequest req;
    req.set_request_id(NewRequestId());
    req.set_session_id(session);
    req.set_turn(t);
    if (t == 1) {
      *req.mutable_start() = handle.handle();
    } else {
      Tokens(req.mutable_append(), model_answers ? u.pieces->appends_model[t - 2] : u.pieces->appends[t - 2]);
    }
    req.set_keep_generated(model_answers);
    req.mutable_generation()->set_max_new_tokens(MaxNewTokens(job, *u.sample, t));
    KVLAB_ASSIGN_OR_RETURN(v1::TurnResponse r, worker.Turn(req));
    v1::Timings timings = r.timings();
    if (t == 1 && !handle.cache_hit()) timings.set_ttft_ms(timings.ttft_ms() + handle.timings().total_ms());
    records.push_back(Record(job, u, handle.handle().model_fingerprint(), t, r.text(), timings, r.usage(), r.tokens().ids_size()));
  }
  KVLAB_RETURN_IF_ERROR(worker.CloseSession(session));
  return records;
}

// RunUnit with recovery, so that one failed process or entry does not fail
// the job:
// * a peer unavailable or past its deadline (a server restarting, a stalled
//   store): the unit runs again after 0.5, 1, 2, 4, 8 s (six tries in all);
// * the unit's entry corrupt (DATA_LOSS: the store has quarantined it) or gone
//   (NOT_FOUND: evicted, or lost with a tier or a restarted kvstore): the unit
//   runs once more from its prefill, which misses and recomputes the entry;
//   its records then carry "recomputed_entries": 1.
// A unit is idempotent: its records are kept only when all its turns ran,
// and a retry opens a new decode session. Other errors are returned.
absl::StatusOr<std::vector<json>> RunUnitRecovering(const JobSpec& job, const JobDeps& deps, const Unit& u,
                                                    const std::atomic<bool>& cancelled) {
  constexpr int kTries = 6;
  bool recomputed = false;
  absl::StatusOr<std::vector<json>> records;
  for (int attempt = 0; attempt < kTries; ++attempt) {
    if (attempt > 0) {
      const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(500 << std::min(attempt - 1, 4));
      while (std::chrono::steady_clock::now() < until && !cancelled.load()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
    records = RunUnit(job, deps, u, cancelled);
    const absl::StatusCode code = records.status().code();
    if (records.ok()) break;
    const bool lost = code == absl::StatusCode::kDataLoss || code == absl::StatusCode::kNotFound;
    const bool transient = code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kDeadlineExceeded;
    if ((lost && recomputed) || (!lost && !transient)) return records;
    recomputed = recomputed || lost;
    spdlog::warn("job {}: unit {}: {}; {}", job.name, u.key, records.status().ToString(),
                 lost ? "recomputing its entry" : "retrying");
  }
  if (records.ok() && recomputed) {
    for (json& r : *records) r["recomputed_entries"] = 1;
  }
  return records;
}

// Records already in results.jsonl, grouped by unit.
std::map<std::string, std::vector<json>> ReadExisting(const std::string& path) {
  std::map<std::string, std::vector<json>> by_unit;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    json r = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (r.is_discarded() || !r.contains("unit")) continue;  // a line cut by a crash
    by_unit[r["unit"].get<std::string>()].push_back(r);
  }
  return by_unit;
}

}  // namespace

absl::Status ValidateJobForModel(const JobSpec& job, const ModelConfig& model) {
  for (const std::string& method : job.methods) {
    KVLAB_ASSIGN_OR_RETURN(MethodSpec spec, ParseMethodSpec(method));
    if (absl::Status s = CheckCodecFits(spec.codec, model.head_dim); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("method '", method, "' cannot run on this model: ", s.message()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<JobOutcome> RunJob(const JobSpec& job, const JobDeps& deps, const std::string& output_dir,
                                  const std::function<void(int64_t, int64_t)>& progress,
                                  const std::atomic<bool>& cancelled) {
  if (deps.prefill == nullptr || deps.workers.empty() || deps.tokenizer == nullptr) {
    return absl::InvalidArgumentError("job needs a prefill service, decode workers and a tokenizer");
  }
  if (job.chat_template && !deps.chat) {
    return absl::FailedPreconditionError("job asks for the chat template but the model has none");
  }
  std::error_code ec;
  std::filesystem::create_directories(output_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create '", output_dir, "': ", ec.message()));

  // Samples and their prompt pieces.
  std::vector<std::unique_ptr<TaskSample>> samples;
  std::vector<std::unique_ptr<PromptPieces>> pieces;
  std::vector<Unit> units;
  const std::optional<ChatTemplate> chat = job.chat_template ? deps.chat : std::nullopt;
  for (const TaskSpec& task : job.tasks) {
    std::vector<TaskSample> task_samples;
    if (!task.file.empty()) {
      ScbenchLoadOptions load;
      load.max_samples = task.sessions;
      load.max_turns = task.turns;
      KVLAB_ASSIGN_OR_RETURN(task_samples, LoadScbenchFile(task.file, task.task, load));
    } else {
      for (int i = 0; i < task.sessions; ++i) {
        SyntheticOptions opts;
        opts.context_tokens = task.context_tokens;
        opts.turns = task.turns;
        opts.seed = job.seed;
        opts.index = i;
        opts.source_dir = task.source_dir;
        KVLAB_ASSIGN_OR_RETURN(TaskSample s, GenerateSyntheticSample(task.task, opts, *deps.tokenizer));
        task_samples.push_back(std::move(s));
      }
    }
    for (TaskSample& s : task_samples) {
      KVLAB_ASSIGN_OR_RETURN(PromptPieces p, BuildPrompts(s, *deps.tokenizer, chat));
      samples.push_back(std::make_unique<TaskSample>(std::move(s)));
      pieces.push_back(std::make_unique<PromptPieces>(std::move(p)));
    }
  }
  // RepoQA scores a prediction against every function asked of its repository.
  std::map<std::string, std::vector<RepoQaNeedle>> needles;
  for (const auto& s : samples) {
    for (const TaskTurn& t : s->turns) {
      if (t.name.empty()) continue;
      auto& list = needles[s->task + "|" + s->repo];
      if (std::none_of(list.begin(), list.end(), [&](const RepoQaNeedle& n) { return n.name == t.name; })) {
        list.push_back({t.name, t.answer});
      }
    }
  }
  for (size_t i = 0; i < samples.size(); ++i) {
    for (const std::string& method : job.methods) {
      for (SharedContextMode mode : job.modes) {
        Unit u;
        u.index = static_cast<int64_t>(units.size());
        u.sample = samples[i].get();
        u.pieces = pieces[i].get();
        u.method = method;
        u.mode = mode;
        u.key = absl::StrCat(u.sample->id, "|", method, "|", ModeName(mode));
        auto it = needles.find(u.sample->task + "|" + u.sample->repo);
        if (it != needles.end()) u.needles = &it->second;
        units.push_back(u);
      }
    }
  }

  // A results directory belongs to one job: resuming another job there would
  // mix their records.
  const std::string job_path = output_dir + "/job.json";
  const nlohmann::json job_doc = job.ToJson();
  if (std::filesystem::exists(job_path)) {
    auto previous = ReadJsonFile(job_path);
    if (!previous.ok() || *previous != job_doc) {
      return absl::FailedPreconditionError(absl::StrCat("'", output_dir,
                                                        "' holds results of a different job; use another output "
                                                        "directory or remove it"));
    }
  } else {
    std::ofstream(job_path) << job_doc.dump(2) << "\n";
  }
  const std::string results_path = output_dir + "/results.jsonl";
  std::map<std::string, std::vector<json>> done = ReadExisting(results_path);
  int64_t total = 0, finished = 0;
  std::vector<const Unit*> todo;
  for (const Unit& u : units) {
    total += static_cast<int64_t>(u.sample->turns.size());
    auto it = done.find(u.key);
    if (it != done.end() && it->second.size() == u.sample->turns.size()) {
      finished += static_cast<int64_t>(u.sample->turns.size());
    } else {
      todo.push_back(&u);
    }
  }
  // Drop partial units from the file so it holds only complete sessions.
  {
    std::ofstream rewrite(results_path, std::ios::trunc);
    for (const Unit& u : units) {
      auto it = done.find(u.key);
      if (it == done.end() || it->second.size() != u.sample->turns.size()) continue;
      for (const json& r : it->second) rewrite << r.dump() << "\n";
    }
  }
  progress(finished, total);

  std::mutex mu;
  std::ofstream out(results_path, std::ios::app);
  absl::Status first_error;
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next.fetch_add(1); i < todo.size(); i = next.fetch_add(1)) {
      {
        std::lock_guard<std::mutex> lock(mu);
        if (!first_error.ok()) return;
      }
      auto records = RunUnitRecovering(job, deps, *todo[i], cancelled);
      std::lock_guard<std::mutex> lock(mu);
      if (!records.ok()) {
        if (first_error.ok()) first_error = records.status();
        return;
      }
      for (const json& r : *records) out << r.dump() << "\n";
      out.flush();
      done[todo[i]->key] = *records;
      finished += static_cast<int64_t>(records->size());
      progress(finished, total);
    }
  };
  std::vector<std::thread> threads;
  for (int t = 1; t < job.concurrency; ++t) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  KVLAB_RETURN_IF_ERROR(first_error);
  if (!out) return absl::InternalError(absl::StrCat("cannot write '", results_path, "'"));

  JobOutcome outcome;
  for (const Unit& u : units) {
    for (const json& r : done[u.key]) outcome.records.push_back(r);
  }
  outcome.summary_markdown = SummaryMarkdown(outcome.records);
  std::ofstream(output_dir + "/summary.md")
      << "# " << job.name << "\n\n## Abilities (scorer: " << ScorerVariantName(job.scorer) << ")\n\n"
      << AbilitiesMarkdown(outcome.records, "score") << "\n## Abilities, strict scorer\n\n"
      << AbilitiesMarkdown(outcome.records, "score_strict") << "\n## Score per turn\n\n"
      << outcome.summary_markdown;
  std::ofstream(output_dir + "/summary.csv") << SummaryCsv(outcome.records);
  std::ofstream(output_dir + "/abilities.csv") << AbilitiesCsv(outcome.records, "score");
  std::ofstream(output_dir + "/report.html") << ReportHtml(job.name, outcome.records);
  return outcome;
}

}  // namespace kvlab
