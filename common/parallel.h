// A process-wide pool of worker threads for data-parallel loops.
#ifndef KVLAB_COMMON_PARALLEL_H_
#define KVLAB_COMMON_PARALLEL_H_

#include <cstdint>
#include <functional>

namespace kvlab {

// Number of threads ParallelFor uses (the hardware concurrency unless the
// environment variable KVLAB_NUM_THREADS sets it).
int NumWorkerThreads();

// Calls fn(begin, end) on disjoint sub-ranges covering [0, n), spread over the
// worker pool, and returns when all calls have finished. Sub-ranges hold at
// least `grain` items (except possibly the last). The calling thread takes
// part. Nested calls from inside fn run serially. fn must not throw.
// Thread-safe: concurrent callers are serialized.
void ParallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace kvlab

#endif  // KVLAB_COMMON_PARALLEL_H_
