// Transparent huge pages for the heap of processes that move large buffers.
//
// Entries, layers and gRPC buffers are many MiB each; with 4 KiB pages every
// fresh buffer costs one page fault per 4 KiB, which dominates copying on
// virtual machines (tens of microseconds per fault). glibc backs its heap
// with transparent huge pages when GLIBC_TUNABLES holds
// glibc.malloc.hugetlb=1 (read only at process start), which also works where
// the kernel's THP mode is "madvise", the common default.
#ifndef KVLAB_COMMON_HUGE_PAGE_MALLOC_H_
#define KVLAB_COMMON_HUGE_PAGE_MALLOC_H_

namespace kvlab {

// Call first thing in main(), before any thread starts. Unless the tunable is
// already set (by the user or by an earlier call) or KVLAB_HUGE_PAGES=0,
// re-executes this program (/proc/self/exe, same argv and pid) with
// glibc.malloc.hugetlb=1 added to GLIBC_TUNABLES. Returns normally when no
// re-execution was needed or it failed (the program then runs as it is).
void ReexecWithHugePageMalloc(char** argv);

}  // namespace kvlab

#endif  // KVLAB_COMMON_HUGE_PAGE_MALLOC_H_
