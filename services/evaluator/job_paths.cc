#include "services/evaluator/job_paths.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace kvlab {
namespace {

namespace fs = std::filesystem;

// True when `p` lies under `root` (both canonical).
bool Within(const fs::path& p, const fs::path& root) {
  auto r = root.begin(), q = p.begin();
  for (; r != root.end(); ++r, ++q) {
    if (q == p.end() || *q != *r) return false;
  }
  return true;
}

absl::StatusOr<std::string> ResolveData(const std::vector<std::string>& roots, const std::string& relative,
                                        const std::string& what) {
  if (roots.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " '", relative, "': this evaluator reads no task files ",
                                                   "(it was started without --data_dir)"));
  }
  for (const std::string& root : roots) {
    KVLAB_ASSIGN_OR_RETURN(std::string candidate, PathUnder(root, relative, what));
    std::error_code ec;
    const fs::path real = fs::canonical(candidate, ec);
    if (ec) continue;
    const fs::path real_root = fs::canonical(root, ec);
    if (ec || !Within(real, real_root)) {
      return absl::InvalidArgumentError(absl::StrCat(what, " '", relative, "' leaves the data directory"));
    }
    return real.string();
  }
  return absl::NotFoundError(absl::StrCat(what, " '", relative, "' is in none of the evaluator's data directories"));
}

}  // namespace

absl::StatusOr<std::string> PathUnder(const std::string& root, const std::string& relative, const std::string& what) {
  const fs::path rel(relative);
  if (relative.empty() || rel.is_absolute()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " '", relative, "' must be a non-empty path relative to the evaluator's directory"));
  }
  for (const fs::path& part : rel) {
    if (part == "..") return absl::InvalidArgumentError(absl::StrCat(what, " '", relative, "' must not contain '..'"));
  }
  return (fs::path(root) / rel).lexically_normal().string();
}

absl::Status ResolveJobData(const std::vector<std::string>& data_dirs, JobSpec& job) {
  for (TaskSpec& task : job.tasks) {
    if (!task.file.empty()) {
      KVLAB_ASSIGN_OR_RETURN(task.file, ResolveData(data_dirs, task.file, "task file"));
    }
    if (!task.source_dir.empty()) {
      KVLAB_ASSIGN_OR_RETURN(task.source_dir, ResolveData(data_dirs, task.source_dir, "source_dir"));
    }
  }
  return absl::OkStatus();
}

}  // namespace kvlab
