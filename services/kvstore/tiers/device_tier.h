// The device tier: entry payloads in CUDA device memory (built only with
// KVLAB_HAVE_CUDA). Each layer lives in its own cudaMalloc buffer; the
// header stays in host memory. Get copies the layers back to the host; the
// store verifies them against the header's checksums like any other read.
#ifndef KVLAB_SERVICES_KVSTORE_TIERS_DEVICE_TIER_H_
#define KVLAB_SERVICES_KVSTORE_TIERS_DEVICE_TIER_H_

#ifdef KVLAB_HAVE_CUDA

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "services/kvstore/tiers/tier.h"

namespace kvlab {

// RAII owner of one cudaMalloc allocation on the tier's device.
class DeviceBuffer {
 public:
  // RESOURCE_EXHAUSTED when the device is out of memory, INTERNAL for other
  // CUDA errors. A zero-byte buffer allocates nothing.
  static absl::StatusOr<DeviceBuffer> Allocate(size_t bytes);

  DeviceBuffer() = default;
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

struct DeviceTierOptions {
  int device = 0;
};

// Thread-safe. Copies run on the calling thread (cudaMemcpy).
class DeviceTier : public Tier {
 public:
  // UNAVAILABLE when no CUDA device is visible; INVALID_ARGUMENT for a bad
  // device ordinal.
  static absl::StatusOr<std::unique_ptr<DeviceTier>> Create(const DeviceTierOptions& options);

  const std::string& name() const override { return name_; }
  bool persistent() const override { return false; }
  absl::Status Put(const std::string& id, std::shared_ptr<const KvEntry> entry) override;
  absl::StatusOr<std::shared_ptr<const KvEntry>> Get(const std::string& id) override;
  absl::Status Delete(const std::string& id) override;
  absl::Status Quarantine(const std::string& id) override;
  absl::StatusOr<std::vector<TierListing>> List() override;

 private:
  struct Slot {
    v1::KvEntryHeader header;
    std::vector<DeviceBuffer> layers;
  };

  explicit DeviceTier(const DeviceTierOptions& options) : options_(options) {}
  absl::Status SetDevice() const;

  const std::string name_ = "device";
  const DeviceTierOptions options_;
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const Slot>> slots_;
};

}  // namespace kvlab

#endif  // KVLAB_HAVE_CUDA
#endif  // KVLAB_SERVICES_KVSTORE_TIERS_DEVICE_TIER_H_
