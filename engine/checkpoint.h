// A Hugging Face model directory's weights: one or several safetensors files.
#ifndef KVLAB_ENGINE_CHECKPOINT_H_
#define KVLAB_ENGINE_CHECKPOINT_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/model_config.h"
#include "engine/safetensors.h"

namespace kvlab {

// The tensors of a model directory, memory-mapped. Thread-compatible.
class Checkpoint {
 public:
  // Opens <dir>/config.json and either <dir>/model.safetensors or the shards
  // named by <dir>/model.safetensors.index.json. Errors name the file:
  // NOT_FOUND when the directory has no config.json or no weights;
  // INVALID_ARGUMENT for a malformed index, a shard that lacks a tensor the
  // index assigns to it, or a malformed safetensors file; UNIMPLEMENTED for an
  // unsupported architecture.
  static absl::StatusOr<std::unique_ptr<Checkpoint>> Open(const std::string& dir);

  const std::string& dir() const { return dir_; }
  const ModelConfig& config() const { return config_; }
  // All tensors by name (sorted).
  const std::map<std::string, const TensorView*>& tensors() const { return tensors_; }

  // Returns the tensor `name` after checking it has `shape`. INVALID_ARGUMENT
  // naming the file when it is missing or its shape differs.
  absl::StatusOr<const TensorView*> Require(const std::string& name,
                                            const std::vector<int64_t>& shape) const;
  // Which file holds `name` (for messages).
  std::string FileOf(const std::string& name) const;
  // Drops the mapped pages of a tensor from resident memory once converted.
  void Release(const TensorView& view) const;

 private:
  Checkpoint() = default;

  std::string dir_;
  ModelConfig config_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, const TensorView*> tensors_;
  std::map<std::string, const SafetensorsFile*> owner_;
};

}  // namespace kvlab

#endif  // KVLAB_ENGINE_CHECKPOINT_H_
