#include "services/evaluator/local_evaluator.h"

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/json_file.h"
#include "common/status_macros.h"
#include "services/evaluator/job_paths.h"
#include "services/evaluator/job_spec.h"
#include "spdlog/spdlog.h"

namespace kvlab {
namespace {

// "<name>-<12 random hex digits>" (48 bits from the OS's random source).
std::string NewJobId(const std::string& name) {
  static std::mutex mu;
  static std::mt19937_64 rng{std::random_device{}()};
  std::lock_guard<std::mutex> lock(mu);
  return absl::StrCat(name, "-", absl::StrFormat("%012x", rng() >> 16));
}

bool Finished(v1::JobStatus::State s) {
  return s == v1::JobStatus::SUCCEEDED || s == v1::JobStatus::FAILED || s == v1::JobStatus::CANCELLED;
}

class LocalEvaluator : public Evaluator {
 public:
  LocalEvaluator(JobDeps deps, const LocalEvaluatorOptions& options) : deps_(std::move(deps)), options_(options) {
    if (options_.resume_jobs) ResumeJobs();
  }

  ~LocalEvaluator() override {
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(mu_);
      shutting_down_ = true;
      for (auto& [id, job] : jobs_) {
        job->cancelled.store(true);
        if (job->thread.joinable()) threads.push_back(std::move(job->thread));
      }
    }
    for (auto& t : threads) t.join();
  }

  absl::StatusOr<v1::JobStatus> SubmitJob(const v1::SubmitJobRequest& request) override {
    nlohmann::json doc = nlohmann::json::parse(request.job_json(), nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) return absl::InvalidArgumentError("job_json is not valid JSON");
    KVLAB_ASSIGN_OR_RETURN(JobSpec spec, ParseJobSpec(doc));
    if (deps_.model) KVLAB_RETURN_IF_ERROR(ValidateJobForModel(spec, *deps_.model));
    if (options_.confine_paths) KVLAB_RETURN_IF_ERROR(ResolveJobData(options_.data_dirs, spec));
    auto job = std::make_shared<Job>();
    job->spec = spec;
    job->status.set_state(v1::JobStatus::QUEUED);
    std::lock_guard<std::mutex> lock(mu_);
    // Every submission is a new job with its own id: a stored job (whose
    // thread may still run) is never replaced.
    std::string id;
    do {
      id = NewJobId(spec.name);
    } while (jobs_.count(id) != 0);
    job->status.set_job_id(id);
    std::string output_dir = request.output_dir();
    if (output_dir.empty()) {
      output_dir = absl::StrCat(options_.jobs_dir, "/", id);
    } else if (options_.confine_paths) {
      KVLAB_ASSIGN_OR_RETURN(output_dir, PathUnder(options_.jobs_dir, output_dir, "output_dir"));
    }
    job->status.set_output_dir(output_dir);
    if (options_.resume_jobs) KVLAB_RETURN_IF_ERROR(SaveJob(job->spec, job->status));
    jobs_.emplace(id, job);
    job->thread = std::thread([this, job] { Run(job); });
    return job->status;
  }

  absl::Status WatchJob(const std::string& job_id,
                        const std::function<bool(const v1::JobStatus&)>& on_update) override {
    std::shared_ptr<Job> job = Find(job_id);
    if (!job) return absl::NotFoundError(absl::StrCat("no job '", job_id, "'"));
    int64_t seen = -1;
    while (true) {
      v1::JobStatus status;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait_for(lock, std::chrono::seconds(1), [&] { return job->version != seen; });
        seen = job->version;
        status = job->status;
        status.set_elapsed_s(job->elapsed());
      }
      if (!on_update(status) || Finished(status.state())) return absl::OkStatus();
    }
  }

  absl::StatusOr<v1::ListJobsResponse> ListJobs() override {
    v1::ListJobsResponse response;
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, job] : jobs_) *response.add_jobs() = job->status;
    return response;
  }

  absl::StatusOr<v1::JobStatus> CancelJob(const std::string& job_id) override {
    std::shared_ptr<Job> job = Find(job_id);
    if (!job) return absl::NotFoundError(absl::StrCat("no job '", job_id, "'"));
    job->cancelled.store(true);
    std::lock_guard<std::mutex> lock(mu_);
    return job->status;
  }

 private:
  struct Job {
    JobSpec spec;
    v1::JobStatus status;
    std::atomic<bool> cancelled{false};
    std::thread thread;
    int64_t version = 0;
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
    double elapsed() const {
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
  };

  std::shared_ptr<Job> Find(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(id);
    return it == jobs_.end() ? nullptr : it->second;
  }

  void Update(Job& job, const std::function<void(v1::JobStatus&)>& change) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      change(job.status);
      job.status.set_elapsed_s(job.elapsed());
      ++job.version;
    }
    cv_.notify_all();
  }

  void Run(const std::shared_ptr<Job>& job) {
    Update(*job, [](v1::JobStatus& s) { s.set_state(v1::JobStatus::RUNNING); });
    Persist(*job);
    const int64_t start_done = -1;
    int64_t first_done = start_done;
    auto progress = [&](int64_t done, int64_t total) {
      if (first_done == start_done) first_done = done;
      const double elapsed = job->elapsed();
      Update(*job, [&](v1::JobStatus& s) {
        s.set_turns_done(done);
        s.set_turns_total(total);
        const int64_t fresh = done - first_done;
        s.set_eta_s(fresh > 0 ? elapsed / fresh * (total - done) : 0.0);
      });
    };
    auto outcome = RunJob(job->spec, deps_, job->status.output_dir(), progress, job->cancelled);
    Update(*job, [&](v1::JobStatus& s) {
      if (outcome.ok()) {
        s.set_state(v1::JobStatus::SUCCEEDED);
        s.set_summary_markdown(outcome->summary_markdown);
        s.set_eta_s(0);
      } else if (outcome.status().code() == absl::StatusCode::kCancelled) {
        s.set_state(v1::JobStatus::CANCELLED);
      } else {
        s.set_state(v1::JobStatus::FAILED);
        s.set_error(outcome.status().ToString());
      }
    });
    Persist(*job);
  }

  // <output_dir>/kvlab-job.json: what a restarted evaluator needs to list
  // the job and resume it.
  static absl::Status SaveJob(const JobSpec& spec, const v1::JobStatus& status) {
    const std::string dir = status.output_dir();
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return absl::InternalError(absl::StrCat("cannot create '", dir, "': ", ec.message()));
    const nlohmann::json doc = {{"job_id", status.job_id()},
                                {"state", v1::JobStatus::State_Name(status.state())},
                                {"error", status.error()},
                                {"spec", spec.ToJson()}};
    const std::string path = dir + "/" + kJobFile, tmp = path + ".tmp";
    std::ofstream(tmp) << doc.dump(2) << "\n";
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
      return absl::InternalError(absl::StrCat("cannot write '", path, "'"));
    }
    return absl::OkStatus();
  }

  // Saves the job's state, except when this evaluator is shutting down (the
  // job then stays resumable). Errors are logged: the job itself goes on.
  void Persist(const Job& job) {
    if (!options_.resume_jobs) return;
    v1::JobStatus status;
    {
      std::lock_guard<std::mutex> lock(mu_);
      // Interrupted by the shutdown (running, or cancelled by it): leave it resumable.
      const v1::JobStatus::State state = job.status.state();
      if (shutting_down_ && (!Finished(state) || state == v1::JobStatus::CANCELLED)) return;
      status = job.status;
    }
    if (absl::Status s = SaveJob(job.spec, status); !s.ok()) spdlog::warn("job {}: {}", status.job_id(), s.ToString());
  }

  // Lists the jobs saved under jobs_dir again; starts those that had not ended.
  void ResumeJobs() {
    std::error_code ec;
    if (!std::filesystem::is_directory(options_.jobs_dir, ec)) return;
    std::filesystem::recursive_directory_iterator it(options_.jobs_dir, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
      if (it.depth() > 4) it.disable_recursion_pending();
      if (it->path().filename() != kJobFile) continue;
      if (absl::Status s = ResumeJob(it->path()); !s.ok()) {
        spdlog::warn("not resuming '{}': {}", it->path().string(), s.ToString());
      }
    }
  }

  absl::Status ResumeJob(const std::filesystem::path& file) {
    KVLAB_ASSIGN_OR_RETURN(nlohmann::json doc, ReadJsonFile(file.string()));
    if (!doc.is_object() || !doc["job_id"].is_string() || !doc["state"].is_string() || !doc.contains("spec")) {
      return absl::DataLossError("not a kvlab job file");
    }
    auto job = std::make_shared<Job>();
    KVLAB_ASSIGN_OR_RETURN(job->spec, ParseJobSpec(doc["spec"]));
    v1::JobStatus::State state;
    if (!v1::JobStatus::State_Parse(doc["state"].get<std::string>(), &state)) {
      return absl::DataLossError("unknown job state");
    }
    job->status.set_job_id(doc["job_id"].get<std::string>());
    job->status.set_output_dir(file.parent_path().string());
    job->status.set_state(state);
    if (doc["error"].is_string()) job->status.set_error(doc["error"].get<std::string>());
    std::lock_guard<std::mutex> lock(mu_);
    if (!jobs_.emplace(job->status.job_id(), job).second) return absl::AlreadyExistsError("duplicate job id");
    if (!Finished(state)) {
      spdlog::info("resuming job {} in {}", job->status.job_id(), job->status.output_dir());
      job->thread = std::thread([this, job] { Run(job); });
    }
    return absl::OkStatus();
  }

  static constexpr char kJobFile[] = "kvlab-job.json";

  JobDeps deps_;
  const LocalEvaluatorOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::shared_ptr<Job>> jobs_;
  bool shutting_down_ = false;
};

}  // namespace

std::unique_ptr<Evaluator> NewLocalEvaluator(JobDeps deps, const LocalEvaluatorOptions& options) {
  return std::make_unique<LocalEvaluator>(std::move(deps), options);
}

}  // namespace kvlab
