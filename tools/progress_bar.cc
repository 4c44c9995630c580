#include "tools/progress_bar.h"

#include <unistd.h>

namespace kvlab {

ProgressBar::ProgressBar(std::FILE* out) : out_(out), tty_(::isatty(fileno(out)) == 1) {}

void ProgressBar::Update(const std::string& label, int64_t done, int64_t total, double eta_s) {
  if (!tty_ || total <= 0) return;
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(kWidth * done / total);
  std::string bar(filled, '#');
  bar.append(kWidth - filled, '-');
  std::fprintf(out_, "\r%s [%s] %lld/%lld turns, ETA %.0fs   ", label.c_str(), bar.c_str(), (long long)done,
               (long long)total, eta_s);
  std::fflush(out_);
  drawn_ = true;
}

void ProgressBar::Finish() {
  if (drawn_) std::fprintf(out_, "\n");
  drawn_ = false;
}

}  // namespace kvlab
