// A one-line progress bar with ETA for terminals (silent elsewhere).
#ifndef KVLAB_TOOLS_PROGRESS_BAR_H_
#define KVLAB_TOOLS_PROGRESS_BAR_H_

#include <cstdint>
#include <cstdio>
#include <string>

namespace kvlab {

class ProgressBar {
 public:
  // Draws on `out` only when it is a terminal.
  explicit ProgressBar(std::FILE* out);
  // Redraws "label [#####-----] done/total, ETA".
  void Update(const std::string& label, int64_t done, int64_t total, double eta_s);
  // Ends the line.
  void Finish();

 private:
  std::FILE* out_;
  bool tty_;
  bool drawn_ = false;
};

}  // namespace kvlab

#endif  // KVLAB_TOOLS_PROGRESS_BAR_H_
