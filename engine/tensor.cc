#include "engine/tensor.h"

#include "common/check.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace kvlab {

Tensor::Tensor(std::shared_ptr<Storage> storage, DType dtype, std::vector<int64_t> shape,
               size_t byte_offset)
    : storage_(std::move(storage)), dtype_(dtype), shape_(std::move(shape)),
      byte_offset_(byte_offset) {}

int64_t Tensor::num_elements() const {
  int64_t n = 1;
  for (int64_t d : shape_) n *= d;
  return n;
}

std::string Tensor::ShapeString() const { return absl::StrCat("[", absl::StrJoin(shape_, ", "), "]"); }

Tensor Tensor::Slice(int64_t begin, int64_t end) const {
  CHECK(rank() >= 1 && begin >= 0 && begin <= end && end <= shape_[0]) << "bad slice";
  int64_t row = num_elements() / (shape_[0] == 0 ? 1 : shape_[0]);
  std::vector<int64_t> shape = shape_;
  shape[0] = end - begin;
  return Tensor(storage_, dtype_, std::move(shape), byte_offset_ + begin * row * DTypeSize(dtype_));
}

Tensor Tensor::Reshape(std::vector<int64_t> shape) const {
  Tensor t(storage_, dtype_, std::move(shape), byte_offset_);
  CHECK_EQ(t.num_elements(), num_elements()) << "reshape changes the element count";
  return t;
}

}  // namespace kvlab
