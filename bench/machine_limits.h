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
// Median GB/s of streaming 256 MiB from one thread to another through a
// connected stream socket (loopback TCP, or a Unix socket pair) with plain
// send/recv of 4 MiB: the ceiling for any transport over that socket kind.
// 0 when the sockets cannot be set up.
double MeasureSocketGBs(bool unix_socket);

}  // namespace kvlab::bench

#endif  // KVLAB_BENCH_MACHINE_LIMITS_H_
