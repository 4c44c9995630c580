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
  // Threads other than main allocate from per-thread arenas made of 64 MiB
  // heaps, and glibc unmaps such a heap as soon as it is entirely free unless
  // more than M_TOP_PAD of it would remain; the trim threshold is not
  // consulted. gRPC's receive buffers live there (its poller threads read the
  // socket), so without this every large transfer faulted its buffers in
  // afresh (transfer_bench over loopback TCP: 1.0-1.9 GB/s with 5-15 thousand
  // page faults per 256 MiB, 2.4 GB/s with a few dozen). A pad of a whole heap
  // keeps them. It costs address space, not memory: untouched pages of the
  // padded heap top are never faulted in.
  mallopt(M_TOP_PAD, 64 << 20);
}

}  // namespace kvlab
