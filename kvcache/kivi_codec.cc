#include <algorithm>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/check.h"
#include "engine/dtype.h"
#include "kvcache/quant_codecs.h"
#include "kvcache/quant_group.h"

namespace kvlab {
namespace {

class KiviCodec : public Codec {
 public:
  KiviCodec(int bits, int64_t group, int64_t residual) : bits_(bits), group_(group), residual_(residual) {}

  std::string name() const override {
    return absl::StrCat("kivi{bits=", bits_, ",group=", group_, ",residual=", residual_, "}");
  }

  int64_t EncodedBytes(int64_t rows, int64_t d) const override {
    const Layout l = MakeLayout(rows, d);
    return l.total;
  }

  std::string Encode(std::span<const float> k, std::span<const float> v, int64_t d) const override {
    CHECK_EQ(d % group_, 0) << "kivi group must divide head_dim (validated by the compressor)";
    const int64_t rows = static_cast<int64_t>(k.size()) / d;
    const Layout l = MakeLayout(rows, d);
    std::string out(l.total, '\0');
    char* base = out.data();
    // Keys: per channel over groups of G tokens (each token group transposed
    // so that a channel's G values are contiguous).
    std::vector<float> channels(group_ * d);
    for (int64_t t = 0; t < l.nq / group_; ++t) {
      for (int64_t i = 0; i < group_; ++i) {
        const float* row = k.data() + (t * group_ + i) * d;
        for (int64_t c = 0; c < d; ++c) channels[c * group_ + i] = row[c];
      }
      for (int64_t c = 0; c < d; ++c) {
        const int64_t g = t * d + c;
        QuantizeGroup(channels.data() + c * group_, group_, bits_, base + l.k_params + g * 4, base + l.k_codes,
                      g * group_);
      }
    }
    // Values: per token over groups of G channels.
    for (int64_t g = 0; g < l.nq * (d / group_); ++g) {
      QuantizeGroup(v.data() + g * group_, group_, bits_, base + l.v_params + g * 4, base + l.v_codes, g * group_);
    }
    const int64_t nr = rows - l.nq;
    ConvertFromF32(DType::kBF16, k.data() + l.nq * d, nr * d, base + l.k_residual);
    ConvertFromF32(DType::kBF16, v.data() + l.nq * d, nr * d, base + l.v_residual);
    return out;
  }

  absl::Status Decode(std::string_view payload, int64_t rows, int64_t d, std::vector<float>* k,
                      std::vector<float>* v) const override {
    if (d % group_ != 0 || static_cast<int64_t>(payload.size()) != EncodedBytes(rows, d)) {
      return absl::DataLossError(absl::StrCat(name(), " payload of ", payload.size(), " bytes does not hold ",
                                              rows, " rows of dimension ", d));
    }
    const Layout l = MakeLayout(rows, d);
    const char* base = payload.data();
    k->resize(rows * d);
    v->resize(rows * d);
    auto params = [&](int64_t offset, int64_t g, float* scale, float* mn) {
      uint16_t s, m;
      std::memcpy(&s, base + offset + g * 4, 2);
      std::memcpy(&m, base + offset + g * 4 + 2, 2);
      *scale = HalfToFloat(s);
      *mn = HalfToFloat(m);
    };
    for (int64_t t = 0; t < l.nq / group_; ++t) {
      for (int64_t c = 0; c < d; ++c) {
        const int64_t g = t * d + c;
        float scale, mn;
        params(l.k_params, g, &scale, &mn);
        for (int64_t i = 0; i < group_; ++i) {
          (*k)[(t * group_ + i) * d + c] =
              static_cast<float>(GetCode(base + l.k_codes, g * group_ + i, bits_)) * scale + mn;
        }
      }
    }
    for (int64_t g = 0; g < l.nq * (d / group_); ++g) {
      float scale, mn;
      params(l.v_params, g, &scale, &mn);
      for (int64_t i = 0; i < group_; ++i) {
        (*v)[g * group_ + i] = static_cast<float>(GetCode(base + l.v_codes, g * group_ + i, bits_)) * scale + mn;
      }
    }
    const int64_t nr = rows - l.nq;
    ConvertToF32(DType::kBF16, base + l.k_residual, nr * d, k->data() + l.nq * d);
    ConvertToF32(DType::kBF16, base + l.v_residual, nr * d, v->data() + l.nq * d);
    return absl::OkStatus();
  }

 private:
  // Byte offsets of the payload sections for `rows` rows.
  struct Layout {
    int64_t nq = 0;
    int64_t k_params = 0, k_codes = 0, v_params = 0, v_codes = 0, k_residual = 0, v_residual = 0, total = 0;
  };

  Layout MakeLayout(int64_t rows, int64_t d) const {
    Layout l;
    l.nq = rows > residual_ ? (rows - residual_) / group_ * group_ : 0;
    l.k_params = 0;
    l.k_codes = l.k_params + (l.nq / group_) * d * 4;
    l.v_params = l.k_codes + PackedBytes(l.nq * d, bits_);
    l.v_codes = l.v_params + l.nq * (d / std::max<int64_t>(group_, 1)) * 4;
    l.k_residual = l.v_codes + PackedBytes(l.nq * d, bits_);
    l.v_residual = l.k_residual + (rows - l.nq) * d * 2;
    l.total = l.v_residual + (rows - l.nq) * d * 2;
    return l;
  }

  int bits_;
  int64_t group_;
  int64_t residual_;
};

}  // namespace

std::unique_ptr<Codec> NewKiviCodec(int bits, int64_t group, int64_t residual) {
  return std::make_unique<KiviCodec>(bits, group, residual);
}

}  // namespace kvlab
