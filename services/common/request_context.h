// Small helpers shared by the service implementations.
#ifndef KVLAB_SERVICES_COMMON_REQUEST_CONTEXT_H_
#define KVLAB_SERVICES_COMMON_REQUEST_CONTEXT_H_

#include <chrono>
#include <string>

namespace kvlab {

// A fresh request id ("r-" + 16 hex digits), unique within the process.
std::string NewRequestId();

// Measures elapsed wall time in milliseconds.
class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  double ElapsedMs() const {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count();
  }
  void Reset() { start_ = std::chrono::steady_clock::now(); }

 private:
  std::chrono::steady_clock::time_point start_;
};

}  // namespace kvlab

#endif  // KVLAB_SERVICES_COMMON_REQUEST_CONTEXT_H_
