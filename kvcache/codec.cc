#include "kvcache/codec.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "engine/dtype.h"

namespace kvlab {
namespace {

// Dense K then V, row-major, in one element type.
class DenseCodec : public Codec {
 public:
  explicit DenseCodec(DType dtype) : dtype_(dtype) {}

  std::string name() const override {
    switch (dtype_) {
      case DType::kF32:
        return "f32";
      case DType::kF16:
        return "f16";
      case DType::kBF16:
        return "bf16";
    }
    return "?";
  }

  std::string Encode(std::span<const float> k, std::span<const float> v, int64_t head_dim) const override {
    std::string out(EncodedBytes(static_cast<int64_t>(k.size()) / head_dim, head_dim), '\0');
    char* p = out.data();
    p = Put(k, p);
    Put(v, p);
    return out;
  }

  absl::Status Decode(std::string_view payload, int64_t rows, int64_t head_dim, std::vector<float>* k,
                      std::vector<float>* v) const override {
    if (static_cast<int64_t>(payload.size()) != EncodedBytes(rows, head_dim)) {
      return absl::DataLossError(absl::StrCat(name(), " payload of ", payload.size(), " bytes does not hold ",
                                              rows, " rows of dimension ", head_dim));
    }
    const size_t n = rows * head_dim;
    k->resize(n);
    v->resize(n);
    ConvertToF32(dtype_, payload.data(), n, k->data());
    ConvertToF32(dtype_, payload.data() + n * DTypeSize(dtype_), n, v->data());
    return absl::OkStatus();
  }

  int64_t EncodedBytes(int64_t rows, int64_t head_dim) const override {
    return 2 * rows * head_dim * static_cast<int64_t>(DTypeSize(dtype_));
  }

 private:
  char* Put(std::span<const float> x, char* p) const {
    if (dtype_ == DType::kF32) {
      std::memcpy(p, x.data(), x.size() * sizeof(float));
      return p + x.size() * sizeof(float);
    }
    for (float f : x) {
      uint16_t h = dtype_ == DType::kF16 ? FloatToHalf(f) : FloatToBF16(f);
      std::memcpy(p, &h, 2);
      p += 2;
    }
    return p;
  }

  DType dtype_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Codec>> MakeCodec(std::string_view name) {
  if (name == "f32") return std::make_unique<DenseCodec>(DType::kF32);
  if (name == "f16") return std::make_unique<DenseCodec>(DType::kF16);
  if (name == "bf16") return std::make_unique<DenseCodec>(DType::kBF16);
  return absl::InvalidArgumentError(absl::StrCat("unknown KV codec '", std::string(name), "' (known: f32, f16, bf16)"));
}

}  // namespace kvlab
