// Writing the safetensors format (for tools, benchmarks and tests).
#ifndef KVLAB_ENGINE_SAFETENSORS_WRITER_H_
#define KVLAB_ENGINE_SAFETENSORS_WRITER_H_

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/dtype.h"

namespace kvlab {

// A tensor to write: raw little-endian bytes of `dtype` with `shape`.
struct TensorData {
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

// Writes `tensors` (in name order) to `path` atomically (temp file + rename),
// with an 8-byte aligned header. INVALID_ARGUMENT when a tensor's byte size
// does not match its shape; INTERNAL on I/O errors.
absl::Status WriteSafetensors(const std::string& path, const std::map<std::string, TensorData>& tensors,
                              const std::map<std::string, std::string>& metadata = {});

}  // namespace kvlab

#endif  // KVLAB_ENGINE_SAFETENSORS_WRITER_H_
