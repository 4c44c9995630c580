// Read-only memory mapping of a whole file (RAII).
#ifndef KVLAB_COMMON_MAPPED_FILE_H_
#define KVLAB_COMMON_MAPPED_FILE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "absl/status/statusor.h"

namespace kvlab {

// A file mapped read-only into memory. The mapping lives as long as the
// object; the bytes must not be used after it is destroyed. Thread-safe for
// concurrent reads.
class MappedFile {
 public:
  // Maps `path`. Errors: NOT_FOUND when the file does not exist,
  // PERMISSION_DENIED / INTERNAL for other open or mmap failures. An empty
  // file maps to an empty span.
  static absl::StatusOr<std::unique_ptr<MappedFile>> Open(const std::string& path);

  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  const std::string& path() const { return path_; }

  // Tells the kernel the mapped pages are no longer needed, so they stop
  // counting toward resident memory (they are re-read from the file if touched
  // again). Used after the weights have been converted into owned buffers.
  void ReleasePages();
  // Same for the pages covering `range`, which must lie inside bytes().
  void ReleaseRange(std::span<const uint8_t> range);

 private:
  MappedFile(std::string path, const uint8_t* data, size_t size)
      : path_(std::move(path)), data_(data), size_(size) {}

  std::string path_;
  const uint8_t* data_;
  size_t size_;
};

}  // namespace kvlab

#endif  // KVLAB_COMMON_MAPPED_FILE_H_
