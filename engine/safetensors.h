// Reader for the safetensors format (memory-mapped, zero-copy).
#ifndef KVLAB_ENGINE_SAFETENSORS_H_
#define KVLAB_ENGINE_SAFETENSORS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/mapped_file.h"
#include "engine/dtype.h"

namespace kvlab {

// One tensor inside a mapped safetensors file. `data` points into the mapping
// and is valid while the SafetensorsFile lives.
struct TensorView {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  std::span<const uint8_t> data;

  int64_t num_elements() const;
};

// A memory-mapped .safetensors file with its parsed header.
// Thread-compatible; concurrent reads are safe.
class SafetensorsFile {
 public:
  // Maps and validates `path`: 8-byte header length within the file, JSON
  // header well-formed, every tensor with a supported dtype (F32/F16/BF16),
  // a non-negative shape whose byte size matches its data_offsets, and offsets
  // inside the data section. Errors (all naming the file and, where relevant,
  // the tensor): NOT_FOUND for a missing file; INVALID_ARGUMENT for a
  // truncated file, malformed header or inconsistent tensor; UNIMPLEMENTED for
  // an unsupported dtype.
  static absl::StatusOr<std::unique_ptr<SafetensorsFile>> Open(const std::string& path);

  const std::string& path() const { return file_->path(); }
  const std::map<std::string, TensorView>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // Drops the file's pages from resident memory (see MappedFile::ReleasePages).
  void ReleasePages() { file_->ReleasePages(); }
  void ReleaseRange(std::span<const uint8_t> range) { file_->ReleaseRange(range); }

 private:
  explicit SafetensorsFile(std::unique_ptr<MappedFile> file) : file_(std::move(file)) {}

  std::unique_ptr<MappedFile> file_;
  std::map<std::string, TensorView> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace kvlab

#endif  // KVLAB_ENGINE_SAFETENSORS_H_
