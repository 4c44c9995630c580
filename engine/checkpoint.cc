#include "engine/checkpoint.h"

#include <filesystem>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/json_file.h"
#include "common/status_macros.h"

namespace kvlab {

absl::StatusOr<std::unique_ptr<Checkpoint>> Checkpoint::Open(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat("model directory '", dir, "' does not exist"));
  }
  auto ckpt = std::unique_ptr<Checkpoint>(new Checkpoint());
  ckpt->dir_ = dir;
  KVLAB_ASSIGN_OR_RETURN(ckpt->config_, ModelConfig::FromModelDir(dir));

  const std::string single = dir + "/model.safetensors";
  const std::string index_path = dir + "/model.safetensors.index.json";
  std::map<std::string, std::string> expected_shard;  // tensor -> shard file (sharded only)
  std::vector<std::string> shard_files;
  if (fs::exists(index_path, ec)) {
    KVLAB_ASSIGN_OR_RETURN(nlohmann::json index, ReadJsonFile(index_path));
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat("index '", index_path, "' has no 'weight_map' object"));
    }
    std::set<std::string> shards;
    for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
      if (!it.value().is_string()) {
        return absl::InvalidArgumentError(absl::StrCat("index '", index_path, "': weight_map entry '",
                                                       it.key(), "' is not a file name"));
      }
      std::string shard = it.value().get<std::string>();
      if (shard.find('/') != std::string::npos) {
        return absl::InvalidArgumentError(absl::StrCat("index '", index_path, "': shard name '",
                                                       shard, "' must be a plain file name"));
      }
      expected_shard[it.key()] = shard;
      shards.insert(shard);
    }
    shard_files.assign(shards.begin(), shards.end());
  } else if (fs::exists(single, ec)) {
    shard_files.push_back("model.safetensors");
  } else {
    return absl::NotFoundError(absl::StrCat("model directory '", dir,
                                            "' has neither model.safetensors nor "
                                            "model.safetensors.index.json"));
  }

  for (const std::string& name : shard_files) {
    KVLAB_ASSIGN_OR_RETURN(std::unique_ptr<SafetensorsFile> file,
                           SafetensorsFile::Open(dir + "/" + name));
    for (const auto& [tname, view] : file->tensors()) {
      if (ckpt->tensors_.count(tname)) {
        return absl::InvalidArgumentError(absl::StrCat("tensor '", tname, "' appears in both '",
                                                       ckpt->FileOf(tname), "' and '", file->path(),
                                                       "'"));
      }
      ckpt->tensors_[tname] = &view;
      ckpt->owner_[tname] = file.get();
    }
    ckpt->files_.push_back(std::move(file));
  }
  for (const auto& [tname, shard] : expected_shard) {
    auto it = ckpt->owner_.find(tname);
    if (it == ckpt->owner_.end() || it->second->path() != dir + "/" + shard) {
      return absl::InvalidArgumentError(absl::StrCat("index '", index_path, "' puts tensor '", tname,
                                                     "' in '", shard, "' but that file lacks it"));
    }
  }
  return ckpt;
}

absl::StatusOr<const TensorView*> Checkpoint::Require(const std::string& name,
                                                      const std::vector<int64_t>& shape) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("model directory '", dir_, "': tensor '", name, "' is missing"));
  }
  if (it->second->shape != shape) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tensor '", name, "' in '", FileOf(name), "' has shape [",
        absl::StrJoin(it->second->shape, ","), "], expected [", absl::StrJoin(shape, ","), "]"));
  }
  return it->second;
}

std::string Checkpoint::FileOf(const std::string& name) const {
  auto it = owner_.find(name);
  return it == owner_.end() ? std::string("?") : it->second->path();
}

void Checkpoint::Release(const TensorView& view) const {
  auto it = owner_.find(view.name);
  if (it != owner_.end()) const_cast<SafetensorsFile*>(it->second)->ReleaseRange(view.data);
}

}  // namespace kvlab
