// Invariant checks for programming errors (never for bad input, which gets a
// Status). A failed check prints the condition and message, then aborts.
#ifndef KVLAB_COMMON_CHECK_H_
#define KVLAB_COMMON_CHECK_H_

#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace kvlab::internal {

class CheckFailure {
 public:
  CheckFailure(const char* file, int line, const char* condition) {
    stream_ << file << ":" << line << ": check failed: " << condition << " ";
  }
  [[noreturn]] ~CheckFailure() {
    std::fprintf(stderr, "%s\n", stream_.str().c_str());
    std::abort();
  }
  std::ostream& stream() { return stream_; }

 private:
  std::ostringstream stream_;
};

// Lets `cond ? (void)0 : Voidify() & stream` type-check.
struct Voidify {
  void operator&(std::ostream&) {}
};

}  // namespace kvlab::internal

#define CHECK(cond)          \
  (cond) ? static_cast<void>(0) \
         : ::kvlab::internal::Voidify() &                                       \
               ::kvlab::internal::CheckFailure(__FILE__, __LINE__, #cond).stream()
#define CHECK_EQ(a, b) CHECK((a) == (b))
#define CHECK_LE(a, b) CHECK((a) <= (b))

#endif  // KVLAB_COMMON_CHECK_H_
