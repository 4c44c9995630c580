// Where a job submitted over the network may read and write on the
// evaluator's machine: outputs only under the evaluator's jobs directory,
// task files only under its data directories (DESIGN.md §11).
#ifndef KVLAB_SERVICES_EVALUATOR_JOB_PATHS_H_
#define KVLAB_SERVICES_EVALUATOR_JOB_PATHS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/evaluator/job_spec.h"

namespace kvlab {

// `relative` (as a request names it) placed under `root`: INVALID_ARGUMENT,
// naming `what`, for an absolute path, a '..' component or an empty one.
// Thread-safe.
absl::StatusOr<std::string> PathUnder(const std::string& root, const std::string& relative, const std::string& what);

// Rewrites the job's task files and source directories, named relative to
// one of `data_dirs`, to the existing path under the first root that holds
// them, checking that it does not leave the root through a symlink.
// INVALID_ARGUMENT for absolute paths or '..', or when no data directory is
// configured; NOT_FOUND when no root holds the file. Thread-safe.
absl::Status ResolveJobData(const std::vector<std::string>& data_dirs, JobSpec& job);

}  // namespace kvlab

#endif  // KVLAB_SERVICES_EVALUATOR_JOB_PATHS_H_
