#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/check.h"
#include "engine/dtype.h"
#include "kvcache/quant_codecs.h"
#include "kvcache/quant_group.h"

namespace kvlab {
namespace {

class FlexGenCodec : public Codec {
 public:
  FlexGenCodec(int bits, int64_t group) : bits_(bits), group_(group) {}

  std::string name() const override { return absl::StrCat("flexgen{bits=", bits_, ",group=", group_, "}"); }

  int64_t EncodedBytes(int64_t rows, int64_t head_dim) const override {
    return 2 * TensorBytes(rows, head_dim);
  }

  std::string Encode(std::span<const float> k, std::span<const float> v, int64_t head_dim) const override {
    CHECK_EQ(head_dim % group_, 0) << "flexgen group must divide head_dim (validated by the compressor)";
    const int64_t rows = static_cast<int64_t>(k.size()) / head_dim;
    std::string out(EncodedBytes(rows, head_dim), '\0');
    Put(k, rows, head_dim, out.data());
    Put(v, rows, head_dim, out.data() + TensorBytes(rows, head_dim));
    return out;
  }

  absl::Status Decode(std::string_view payload, int64_t rows, int64_t head_dim, std::vector<float>* k,
                      std::vector<float>* v) const override {
    if (head_dim % group_ != 0 || static_cast<int64_t>(payload.size()) != EncodedBytes(rows, head_dim)) {
      return absl::DataLossError(absl::StrCat(name(), " payload of ", payload.size(), " bytes does not hold ",
                                              rows, " rows of dimension ", head_dim));
    }
    k->resize(rows * head_dim);
    v->resize(rows * head_dim);
    Get(payload.data(), rows, head_dim, k->data());
    Get(payload.data() + TensorBytes(rows, head_dim), rows, head_dim, v->data());
    return absl::OkStatus();
  }

 private:
  int64_t TensorBytes(int64_t rows, int64_t head_dim) const {
    return rows * (head_dim / group_) * 4 + PackedBytes(rows * head_dim, bits_);
  }

  void Put(std::span<const float> x, int64_t rows, int64_t d, char* out) const {
    const int64_t groups = rows * (d / group_);
    char* codes = out + groups * 4;
    for (int64_t g = 0; g < groups; ++g) {
      QuantizeGroup(x.data() + g * group_, group_, bits_, out + g * 4, codes, g * group_);
    }
  }

  void Get(const char* in, int64_t rows, int64_t d, float* x) const {
    const int64_t groups = rows * (d / group_);
    const char* codes = in + groups * 4;
    for (int64_t g = 0; g < groups; ++g) {
      uint16_t s, m;
      std::memcpy(&s, in + g * 4, 2);
      std::memcpy(&m, in + g * 4 + 2, 2);
      const float scale = HalfToFloat(s), mn = HalfToFloat(m);
      for (int64_t i = 0; i < group_; ++i) {
        x[g * group_ + i] = static_cast<float>(GetCode(codes, g * group_ + i, bits_)) * scale + mn;
      }
    }
  }

  int bits_;
  int64_t group_;
};

}  // namespace

std::unique_ptr<Codec> NewFlexGenCodec(int bits, int64_t group) {
  return std::make_unique<FlexGenCodec>(bits, group);
}

}  // namespace kvlab
