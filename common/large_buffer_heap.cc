#include "common/large_buffer_heap.h"

#include <malloc.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace kvlab {

namespace {

void ReexecWithHugePageMalloc(char** argv) {
  const char* opt_out = std::getenv("KVLAB_HUGE_PAGES");
  if (opt_out != nullptr && std::strcmp(opt_out, "0") == 0) return;
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  const bool had_tunables = tunables != nullptr;
  const std::string previous = had_tunables ? tunables : "";
  if (previous.find("glibc.malloc.hugetlb") != std::string::npos) return;
  const std::string value = previous.empty() ? "glibc.malloc.hugetlb=1" : previous + ":glibc.malloc.hugetlb=1";
  if (setenv("GLIBC_TUNABLES", value.c_str(), 1) != 0) return;
  execv("/proc/self/exe", argv);
  // Exec failed (e.g. no /proc): carry on with normal pages, and do not let
  // children believe the tunable is active.
  if (had_tunables) {
    setenv("GLIBC_TUNABLES", previous.c_str(), 1);
  } else {
    unsetenv("GLIBC_TUNABLES");
  }
}

}  // namespace

void SetUpLargeBufferHeap(char** argv) {
  ReexecWithHugePageMalloc(argv);
  // 32 MiB is glibc's largest mmap threshold.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

}  // namespace kvlab
