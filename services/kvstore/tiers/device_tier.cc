#include "services/kvstore/tiers/device_tier.h"

#ifdef KVLAB_HAVE_CUDA

#include <cuda_runtime_api.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "engine/cuda/cuda_backend.h"

namespace kvlab {
namespace {

absl::Status CudaStatus(cudaError_t err, std::string_view what) {
  if (err == cudaSuccess) return absl::OkStatus();
  cudaGetLastError();
  const std::string message =
      absl::StrCat("device tier: ", absl::string_view(what.data(), what.size()), ": ", cudaGetErrorString(err));
  if (err == cudaErrorMemoryAllocation) return absl::ResourceExhaustedError(message);
  return absl::InternalError(message);
}

}  // namespace

absl::StatusOr<DeviceBuffer> DeviceBuffer::Allocate(size_t bytes) {
  DeviceBuffer b;
  if (bytes == 0) return b;
  KVLAB_RETURN_IF_ERROR(CudaStatus(cudaMalloc(&b.data_, bytes), "cudaMalloc"));
  b.size_ = bytes;
  return b;
}

DeviceBuffer::~DeviceBuffer() {
  if (data_ != nullptr) cudaFree(data_);
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) cudaFree(data_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

absl::StatusOr<std::unique_ptr<DeviceTier>> DeviceTier::Create(const DeviceTierOptions& options) {
  const int n = CudaDeviceCount();
  if (n == 0) return absl::UnavailableError("device tier: no CUDA device is visible");
  if (options.device < 0 || options.device >= n) {
    return absl::InvalidArgumentError(absl::StrCat("device tier: device ", options.device, " does not exist (", n,
                                                   " visible)"));
  }
  return std::unique_ptr<DeviceTier>(new DeviceTier(options));
}

absl::Status DeviceTier::SetDevice() const { return CudaStatus(cudaSetDevice(options_.device), "cudaSetDevice"); }

absl::Status DeviceTier::Put(const std::string& id, std::shared_ptr<const KvEntry> entry) {
  KVLAB_RETURN_IF_ERROR(SetDevice());
  auto slot = std::make_shared<Slot>();
  slot->header = entry->header;
  slot->layers.reserve(entry->layers.size());
  for (const std::string& layer : entry->layers) {
    KVLAB_ASSIGN_OR_RETURN(DeviceBuffer b, DeviceBuffer::Allocate(layer.size()));
    if (!layer.empty()) {
      KVLAB_RETURN_IF_ERROR(
          CudaStatus(cudaMemcpy(b.data(), layer.data(), layer.size(), cudaMemcpyHostToDevice), "copy to device"));
    }
    slot->layers.push_back(std::move(b));
  }
  std::shared_ptr<const Slot> old;
  std::lock_guard<std::mutex> lock(mu_);
  old = std::exchange(slots_[id], std::move(slot));
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const KvEntry>> DeviceTier::Get(const std::string& id) {
  std::shared_ptr<const Slot> slot;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = slots_.find(id);
    if (it == slots_.end()) return absl::NotFoundError(absl::StrCat("device tier has no entry '", id, "'"));
    slot = it->second;  // keeps the buffers alive while copying
  }
  KVLAB_RETURN_IF_ERROR(SetDevice());
  auto entry = std::make_shared<KvEntry>();
  entry->header = slot->header;
  entry->layers.resize(slot->layers.size());
  for (size_t l = 0; l < slot->layers.size(); ++l) {
    const DeviceBuffer& b = slot->layers[l];
    entry->layers[l].resize(b.size());
    if (b.size() > 0) {
      KVLAB_RETURN_IF_ERROR(CudaStatus(
          cudaMemcpy(entry->layers[l].data(), b.data(), b.size(), cudaMemcpyDeviceToHost), "copy to host"));
    }
  }
  return std::shared_ptr<const KvEntry>(std::move(entry));
}

absl::Status DeviceTier::Delete(const std::string& id) {
  std::shared_ptr<const Slot> old;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = slots_.find(id);
  if (it == slots_.end()) return absl::OkStatus();
  old = std::move(it->second);
  slots_.erase(it);
  return absl::OkStatus();
}

absl::Status DeviceTier::Quarantine(const std::string& id) { return Delete(id); }

absl::StatusOr<std::vector<TierListing>> DeviceTier::List() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<TierListing> out;
  for (const auto& [id, slot] : slots_) {
    int64_t bytes = 0;
    for (const DeviceBuffer& b : slot->layers) bytes += static_cast<int64_t>(b.size());
    out.push_back(TierListing{id, slot->header, bytes});
  }
  return out;
}

}  // namespace kvlab

#endif  // KVLAB_HAVE_CUDA
