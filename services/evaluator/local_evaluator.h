// The in-process evaluator: runs jobs in background threads.
#ifndef KVLAB_SERVICES_EVALUATOR_LOCAL_EVALUATOR_H_
#define KVLAB_SERVICES_EVALUATOR_LOCAL_EVALUATOR_H_

#include <memory>
#include <string>

#include "services/evaluator/evaluator.h"
#include "services/evaluator/job_runner.h"

namespace kvlab {

struct LocalEvaluatorOptions {
  // Jobs without an output_dir write under <results_dir>/<job_id>.
  std::string results_dir = "kvlab-results";
};

// `deps` pointers are borrowed and must outlive the evaluator. Destroying it
// cancels running jobs and waits for them.
std::unique_ptr<Evaluator> NewLocalEvaluator(JobDeps deps, const LocalEvaluatorOptions& options = {});

}  // namespace kvlab

#endif  // KVLAB_SERVICES_EVALUATOR_LOCAL_EVALUATOR_H_
