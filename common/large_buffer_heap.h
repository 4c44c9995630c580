// The heap of processes that move large buffers (entries, layers, gRPC
// messages of many MiB).
//
// With 4 KiB pages every fresh buffer costs one page fault per 4 KiB, which
// dominates copying on virtual machines (tens of microseconds per fault), and
// glibc returns freed multi-MiB blocks to the kernel, so the next buffer of
// the same size faults its whole size in again. Two remedies, both here:
// transparent huge pages for the heap (glibc backs it with THP when
// GLIBC_TUNABLES holds glibc.malloc.hugetlb=1, read only at process start;
// works where the kernel's THP mode is "madvise", the common default), and
// keeping freed blocks for reuse (mallopt thresholds).
#ifndef KVLAB_COMMON_LARGE_BUFFER_HEAP_H_
#define KVLAB_COMMON_LARGE_BUFFER_HEAP_H_

namespace kvlab {

// Call first thing in main(), before any thread starts. Unless the tunable is
// already set (by the user or by an earlier call) or KVLAB_HUGE_PAGES=0,
// re-executes this program (/proc/self/exe, same argv and pid) with
// glibc.malloc.hugetlb=1 added to GLIBC_TUNABLES. Then (in the program that
// goes on) blocks under 32 MiB come from the heap, the heap top is trimmed
// only beyond 1 GiB free, and the heaps of per-thread arenas are kept when
// they empty (a 64 MiB top pad) instead of being unmapped.
void SetUpLargeBufferHeap(char** argv);

}  // namespace kvlab

#endif  // KVLAB_COMMON_LARGE_BUFFER_HEAP_H_
