// Runs an evaluation job over a prefill service and decode workers.
#ifndef KVLAB_SERVICES_EVALUATOR_JOB_RUNNER_H_
#define KVLAB_SERVICES_EVALUATOR_JOB_RUNNER_H_

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/model_config.h"
#include "engine/tokenizer/chat_template.h"
#include "engine/tokenizer/tokenizer.h"
#include "nlohmann/json.hpp"
#include "services/decode/decode_worker.h"
#include "services/evaluator/job_spec.h"
#include "services/prefill/prefiller.h"

namespace kvlab {

// What a job runs on. Pointers are borrowed; `chat` is used when the job asks
// for the chat template.
struct JobDeps {
  Prefiller* prefill = nullptr;
  std::vector<DecodeWorker*> workers;  // sessions are spread over them
  const Tokenizer* tokenizer = nullptr;
  std::optional<ChatTemplate> chat;
  // The served model's shape, when known: jobs whose methods cannot run on it
  // are refused when submitted (ValidateJobForModel), not minutes later.
  std::optional<ModelConfig> model;
};

// INVALID_ARGUMENT, naming the method, when a method's codec does not fit
// the model (e.g. a quantizer's channel group that does not divide
// head_dim). Thread-safe.
absl::Status ValidateJobForModel(const JobSpec& job, const ModelConfig& model);

struct JobOutcome {
  std::vector<nlohmann::json> records;  // one per turn, in a stable order
  std::string summary_markdown;
};

// Runs every (task sample, method, mode) session of `job`. Each finished
// session appends its turn records to <output_dir>/results.jsonl; sessions
// already complete in that file are skipped (a killed job resumes). At the
// end writes summary.md and summary.csv. `progress(done, total)` is called
// after each session with turn counts; `cancelled` is checked between turns
// (CANCELLED is returned). A session whose peer is unavailable (a server
// restarting) is retried with backoff, one whose entry is corrupt or gone is
// recomputed once (its records say "recomputed_entries"); other errors of the
// services, and those that persist, are returned as they are.
absl::StatusOr<JobOutcome> RunJob(const JobSpec& job, const JobDeps& deps, const std::string& output_dir,
                                  const std::function<void(int64_t, int64_t)>& progress,
                                  const std::atomic<bool>& cancelled);

}  // namespace kvlab

#endif  // KVLAB_SERVICES_EVALUATOR_JOB_RUNNER_H_
