// The evaluator interface: runs SCBench-style jobs over a prefill service and
// decode workers (local or remote) and reports progress and results.
#ifndef KVLAB_SERVICES_EVALUATOR_EVALUATOR_H_
#define KVLAB_SERVICES_EVALUATOR_EVALUATOR_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "kvlab/v1/evaluator.pb.h"

namespace kvlab {

// Thread-safe. Jobs run in the background.
class Evaluator {
 public:
  virtual ~Evaluator() = default;
  // Validates and queues a job. INVALID_ARGUMENT naming the offending field.
  virtual absl::StatusOr<v1::JobStatus> SubmitJob(const v1::SubmitJobRequest& request) = 0;
  // Calls `on_update` with the job's status now and after every change until
  // the job ends (SUCCEEDED/FAILED/CANCELLED) or on_update returns false.
  // NOT_FOUND for an unknown job.
  virtual absl::Status WatchJob(const std::string& job_id,
                                const std::function<bool(const v1::JobStatus&)>& on_update) = 0;
  virtual absl::StatusOr<v1::ListJobsResponse> ListJobs() = 0;
  // NOT_FOUND for an unknown job; a finished job is returned unchanged.
  virtual absl::StatusOr<v1::JobStatus> CancelJob(const std::string& job_id) = 0;
};

}  // namespace kvlab

#endif  // KVLAB_SERVICES_EVALUATOR_EVALUATOR_H_
