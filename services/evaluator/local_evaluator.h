// The in-process evaluator: runs jobs in background threads.
#ifndef KVLAB_SERVICES_EVALUATOR_LOCAL_EVALUATOR_H_
#define KVLAB_SERVICES_EVALUATOR_LOCAL_EVALUATOR_H_

#include <memory>
#include <string>
#include <vector>

#include "services/evaluator/evaluator.h"
#include "services/evaluator/job_runner.h"

namespace kvlab {

struct LocalEvaluatorOptions {
  // Jobs write under <jobs_dir>/<job_id>, or <jobs_dir>/<output_dir> when the
  // request names one.
  std::string jobs_dir = "kvlab-jobs";
  // Roots that task files and source directories are named relative to.
  std::vector<std::string> data_dirs;
  // True for a server (requests come from the network): output_dir and task
  // paths must be relative (no '..') and stay under jobs_dir / data_dirs.
  // False in-process (kvlab run), where the caller is the operator: paths are
  // used as given.
  bool confine_paths = true;
  // Survive a restart (a server): every job keeps its id, spec and state in
  // <output_dir>/kvlab-job.json; a new evaluator lists the jobs it finds
  // under jobs_dir again and resumes those that had not ended (their
  // finished sessions are not run twice). False in-process (kvlab run).
  bool resume_jobs = true;
};

// `deps` pointers are borrowed and must outlive the evaluator. Destroying it
// stops running jobs and waits for them (with resume_jobs they stay
// resumable: a shutdown is not a cancellation).
std::unique_ptr<Evaluator> NewLocalEvaluator(JobDeps deps, const LocalEvaluatorOptions& options = {});

}  // namespace kvlab

#endif  // KVLAB_SERVICES_EVALUATOR_LOCAL_EVALUATOR_H_
