// Backend-owned tensors. Callers outside a backend never touch the memory
// directly: it may live on a device and be written asynchronously.
#ifndef KVLAB_ENGINE_TENSOR_H_
#define KVLAB_ENGINE_TENSOR_H_

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "engine/dtype.h"

namespace kvlab {

enum class Device { kCpu, kCuda };

// Memory owned by a backend. Subclasses free it in their destructor.
class Storage {
 public:
  virtual ~Storage() = default;
  virtual Device device() const = 0;
  // Opaque base address (host pointer for the CPU backend, device pointer for
  // CUDA). Only the backend that created the storage may dereference it.
  virtual void* address() const = 0;
  virtual size_t bytes() const = 0;
};

// A dense, row-major, contiguous view of (part of) a Storage. Cheap to copy;
// copies share the storage.
class Tensor {
 public:
  Tensor() = default;
  Tensor(std::shared_ptr<Storage> storage, DType dtype, std::vector<int64_t> shape,
         size_t byte_offset = 0);

  bool defined() const { return storage_ != nullptr; }
  DType dtype() const { return dtype_; }
  Device device() const { return storage_->device(); }
  const std::vector<int64_t>& shape() const { return shape_; }
  int64_t dim(int i) const { return shape_[i < 0 ? shape_.size() + i : i]; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t num_elements() const;
  size_t bytes() const { return num_elements() * DTypeSize(dtype_); }
  std::string ShapeString() const;

  // Rows [begin, end) along dimension 0, sharing storage.
  Tensor Slice(int64_t begin, int64_t end) const;
  // Same elements, another shape with the same element count.
  Tensor Reshape(std::vector<int64_t> shape) const;

  // Backend use only: the typed base address of this view.
  template <typename T>
  T* data() const {
    return reinterpret_cast<T*>(static_cast<char*>(storage_->address()) + byte_offset_);
  }
  const std::shared_ptr<Storage>& storage() const { return storage_; }

 private:
  std::shared_ptr<Storage> storage_;
  DType dtype_ = DType::kF32;
  std::vector<int64_t> shape_;
  size_t byte_offset_ = 0;
};

}  // namespace kvlab

#endif  // KVLAB_ENGINE_TENSOR_H_
