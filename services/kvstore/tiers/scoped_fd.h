// RAII owner of a POSIX file descriptor.
#ifndef KVLAB_SERVICES_KVSTORE_TIERS_SCOPED_FD_H_
#define KVLAB_SERVICES_KVSTORE_TIERS_SCOPED_FD_H_

#include <unistd.h>

#include <utility>

namespace kvlab {

// Closes the descriptor on destruction. Movable, not copyable.
class ScopedFd {
 public:
  ScopedFd() = default;
  explicit ScopedFd(int fd) : fd_(fd) {}
  ~ScopedFd() { Reset(); }
  ScopedFd(ScopedFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  ScopedFd& operator=(ScopedFd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Closes now and reports close(2)'s result (0 on success).
  int Close() {
    const int rc = fd_ >= 0 ? ::close(fd_) : 0;
    fd_ = -1;
    return rc;
  }

 private:
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd_ = -1;
};

}  // namespace kvlab

#endif  // KVLAB_SERVICES_KVSTORE_TIERS_SCOPED_FD_H_
