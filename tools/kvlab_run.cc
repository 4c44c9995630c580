#include "tools/kvlab_run.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/json_file.h"
#include "common/status_macros.h"
#include "engine/backend.h"
#include "engine/backend_flags.h"
#include "engine/model.h"
#include "services/compressor/compressor.h"
#include "services/decode/decode_worker.h"
#include "services/evaluator/job_spec.h"
#include "services/evaluator/local_evaluator.h"
#include "services/kvstore/kv_store.h"
#include "services/prefill/prefiller.h"
#include "tools/progress_bar.h"

ABSL_FLAG(std::string, model, "", "model directory (default: $KVLAB_MODEL or the embedded default model)");
ABSL_FLAG(std::string, job, "", "JSON job file; without it a job is built from the flags below");
ABSL_FLAG(std::string, tasks, "kv,passkey", "synthetic tasks of the built job, comma-separated (kv = Retr.KV)");
ABSL_FLAG(int, sessions, 4, "sessions (contexts) per task");
ABSL_FLAG(int, turns, 5, "questions per session");
ABSL_FLAG(int64_t, context_tokens, 1024, "context length in model tokens (the embedded model is trained to 1024)");
ABSL_FLAG(std::string, methods, "prefill=dense;kv=full|prefill=dense;kv=snapkv{capacity=256}|prefill=dense;kv=kivi{bits=2}",
          "method specs separated by '|'");
ABSL_FLAG(std::string, output_dir, "",
          "where results.jsonl and summary.md go (default: a new kvlab-results/run-<time> directory); an existing "
          "directory of the same job is resumed");
ABSL_FLAG(bool, chat_template, true, "wrap prompts in the model's chat template");

namespace kvlab {
namespace {

#ifndef KVLAB_DEFAULT_MODEL_DIR
#define KVLAB_DEFAULT_MODEL_DIR "models/kvlab-tiny-v1"
#endif

absl::StatusOr<nlohmann::json> JobDocument() {
  if (!absl::GetFlag(FLAGS_job).empty()) return ReadJsonFile(absl::GetFlag(FLAGS_job));
  nlohmann::json job;
  job["name"] = "run";
  job["tasks"] = nlohmann::json::array();
  for (absl::string_view t : absl::StrSplit(absl::GetFlag(FLAGS_tasks), ',', absl::SkipWhitespace())) {
    job["tasks"].push_back({{"task", std::string(t)},
                            {"sessions", absl::GetFlag(FLAGS_sessions)},
                            {"turns", absl::GetFlag(FLAGS_turns)},
                            {"context_tokens", absl::GetFlag(FLAGS_context_tokens)}});
  }
  job["methods"] = nlohmann::json::array();
  for (absl::string_view m : absl::StrSplit(absl::GetFlag(FLAGS_methods), '|', absl::SkipWhitespace())) {
    job["methods"].push_back(std::string(m));
  }
  job["modes"] = {"multi_turn", "multi_request"};
  job["chat_template"] = absl::GetFlag(FLAGS_chat_template);
  return job;
}

absl::Status Run() {
  std::string dir = absl::GetFlag(FLAGS_model);
  if (dir.empty()) dir = DefaultModelDir();
  KVLAB_ASSIGN_OR_RETURN(auto backend, BackendFromFlags());
  std::fprintf(stderr, "kvlab run: loading %s on %s\n", dir.c_str(), backend->name().c_str());
  KVLAB_ASSIGN_OR_RETURN(auto model, Model::Load(dir, *backend));
  KVLAB_ASSIGN_OR_RETURN(auto tokenizer, Tokenizer::FromModelDir(dir));
  std::string no_chat;
  KVLAB_ASSIGN_OR_RETURN(std::optional<ChatTemplate> chat, ChatTemplate::OptionalFromModelDir(dir, &no_chat));
  if (!chat) std::fprintf(stderr, "kvlab run: prompts without a chat template: %s\n", no_chat.c_str());

  auto store = NewLocalKvStore();
  auto compressor = NewLocalCompressor();
  auto prefill = NewLocalPrefiller(model.get(), tokenizer.get(), compressor.get(), store.get());
  auto decode = NewLocalDecodeWorker(model.get(), tokenizer.get(), store.get());
  JobDeps deps{prefill.get(), {decode.get()}, tokenizer.get(), chat, model->config()};
  LocalEvaluatorOptions options;
  options.confine_paths = false;  // in-process: the caller is the operator, paths are theirs
  options.resume_jobs = false;    // and the job is this process's only one
  auto evaluator = NewLocalEvaluator(deps, options);

  KVLAB_ASSIGN_OR_RETURN(nlohmann::json job, JobDocument());
  v1::SubmitJobRequest request;
  request.set_job_json(job.dump());
  std::string output_dir = absl::GetFlag(FLAGS_output_dir);
  if (output_dir.empty()) {
    output_dir = absl::StrCat("kvlab-results/run-", absl::FormatTime("%Y%m%d-%H%M%S", absl::Now(), absl::UTCTimeZone()));
  }
  request.set_output_dir(output_dir);
  KVLAB_ASSIGN_OR_RETURN(v1::JobStatus status, evaluator->SubmitJob(request));
  std::fprintf(stderr, "kvlab run: model %s (fingerprint %s), job %s -> %s\n", dir.c_str(),
               model->fingerprint().ToHex().c_str(), status.job_id().c_str(), status.output_dir().c_str());
  ProgressBar bar(stderr);
  v1::JobStatus last;
  KVLAB_RETURN_IF_ERROR(evaluator->WatchJob(status.job_id(), [&](const v1::JobStatus& s) {
    bar.Update(s.job_id(), s.turns_done(), s.turns_total(), s.eta_s());
    last = s;
    return true;
  }));
  bar.Finish();
  if (last.state() != v1::JobStatus::SUCCEEDED) {
    return absl::InternalError(absl::StrCat("job ", last.job_id(), " ended ",
                                            v1::JobStatus::State_Name(last.state()), ": ", last.error()));
  }
  std::printf("%s", last.summary_markdown().c_str());
  std::fprintf(stderr, "kvlab run: %lld turns in %.1f s; results in %s\n", (long long)last.turns_total(),
               last.elapsed_s(), last.output_dir().c_str());
  return absl::OkStatus();
}

}  // namespace

std::string DefaultModelDir() {
  if (const char* env = std::getenv("KVLAB_MODEL")) return env;
  std::string in_repo = std::string(KVLAB_SOURCE_DIR) + "/" + KVLAB_DEFAULT_MODEL_DIR;
  if (std::filesystem::exists(in_repo)) return in_repo;
  return KVLAB_DEFAULT_MODEL_DIR;
}

int RunCommand(std::vector<char*> args) {
  absl::ParseCommandLine(static_cast<int>(args.size()), args.data());
  absl::Status s = Run();
  if (!s.ok()) {
    std::fprintf(stderr, "kvlab run: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace kvlab
