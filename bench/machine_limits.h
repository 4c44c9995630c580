// Measures this machine's limits, in the same run as a benchmark, so figures
// can be reported as fractions of what the hardware can do.
#ifndef KVLAB_BENCH_MACHINE_LIMITS_H_
#define KVLAB_BENCH_MACHINE_LIMITS_H_

namespace kvlab::bench {

// Best GFLOP/s of a large single-precision GEMM (OpenBLAS, all threads).
double MeasureSgemmPeakGflops();
// Best GB/s of reading a 1 GiB buffer with all worker threads.
double MeasureReadBandwidthGBs();
// Best GB/s of a single-threaded 256 MiB memcpy.
double MeasureMemcpyGBs();

}  // namespace kvlab::bench

#endif  // KVLAB_BENCH_MACHINE_LIMITS_H_
