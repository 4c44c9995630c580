#include "kvcache/codec.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "engine/dtype.h"
#include "kvcache/budget.h"
#include "kvcache/codec_spec.h"
#include "kvcache/method_spec.h"
#include "kvcache/quant_codecs.h"

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
    KVLAB_RETURN_IF_ERROR(DecodeKeys(payload, rows, head_dim, k));
    const size_t n = rows * head_dim;
    v->resize(n);
    ConvertToF32(dtype_, payload.data() + n * DTypeSize(dtype_), n, v->data());
    return absl::OkStatus();
  }

  absl::Status DecodeKeys(std::string_view payload, int64_t rows, int64_t head_dim,
                          std::vector<float>* k) const override {
    KVLAB_RETURN_IF_ERROR(CheckSize(payload, rows, head_dim));
    k->resize(rows * head_dim);
    ConvertToF32(dtype_, payload.data(), rows * head_dim, k->data());
    return absl::OkStatus();
  }

  absl::Status DecodeRows(std::string_view payload, int64_t rows, int64_t head_dim, std::span<const int32_t> select,
                          std::vector<float>* k, std::vector<float>* v) const override {
    KVLAB_RETURN_IF_ERROR(CheckSize(payload, rows, head_dim));
    KVLAB_RETURN_IF_ERROR(CheckSelection(select, rows));
    const size_t row_bytes = head_dim * DTypeSize(dtype_);
    const char* v_base = payload.data() + rows * row_bytes;
    k->resize(select.size() * head_dim);
    v->resize(select.size() * head_dim);
    for (size_t i = 0; i < select.size(); ++i) {
      ConvertToF32(dtype_, payload.data() + select[i] * row_bytes, head_dim, k->data() + i * head_dim);
      ConvertToF32(dtype_, v_base + select[i] * row_bytes, head_dim, v->data() + i * head_dim);
    }
    return absl::OkStatus();
  }

  bool GatherRows(std::string_view payload, int64_t rows, int64_t head_dim, std::span<const int32_t> select,
                  std::string* out) const override {
    if (!CheckSize(payload, rows, head_dim).ok() || !CheckSelection(select, rows).ok()) return false;
    const size_t row_bytes = head_dim * DTypeSize(dtype_);
    out->resize(2 * select.size() * row_bytes);
    char* k_out = out->data();
    char* v_out = k_out + select.size() * row_bytes;
    const char* v_base = payload.data() + rows * row_bytes;
    for (size_t i = 0; i < select.size(); ++i) {
      std::memcpy(k_out + i * row_bytes, payload.data() + select[i] * row_bytes, row_bytes);
      std::memcpy(v_out + i * row_bytes, v_base + select[i] * row_bytes, row_bytes);
    }
    return true;
  }

  int64_t EncodedBytes(int64_t rows, int64_t head_dim) const override {
    return 2 * rows * head_dim * static_cast<int64_t>(DTypeSize(dtype_));
  }

 private:
  char* Put(std::span<const float> x, char* p) const {
    ConvertFromF32(dtype_, x.data(), x.size(), p);
    return p + x.size() * DTypeSize(dtype_);
  }

  absl::Status CheckSize(std::string_view payload, int64_t rows, int64_t head_dim) const {
    if (static_cast<int64_t>(payload.size()) != EncodedBytes(rows, head_dim)) {
      return absl::DataLossError(absl::StrCat(name(), " payload of ", payload.size(), " bytes does not hold ",
                                              rows, " rows of dimension ", head_dim));
    }
    return absl::OkStatus();
  }

  DType dtype_;
};

}  // namespace

absl::Status CheckSelection(std::span<const int32_t> select, int64_t rows) {
  for (size_t i = 0; i < select.size(); ++i) {
    if (select[i] < 0 || select[i] >= rows || (i > 0 && select[i] <= select[i - 1])) {
      return absl::InvalidArgumentError(
          absl::StrCat("selected rows must be ascending row indices below ", rows, "; row ", i, " is ", select[i]));
    }
  }
  return absl::OkStatus();
}

absl::Status Codec::DecodeKeys(std::string_view payload, int64_t rows, int64_t head_dim,
                               std::vector<float>* k) const {
  std::vector<float> v;
  return Decode(payload, rows, head_dim, k, &v);
}

absl::Status Codec::DecodeRows(std::string_view payload, int64_t rows, int64_t head_dim,
                               std::span<const int32_t> select, std::vector<float>* k,
                               std::vector<float>* v) const {
  KVLAB_RETURN_IF_ERROR(CheckSelection(select, rows));
  std::vector<float> all_k, all_v;
  KVLAB_RETURN_IF_ERROR(Decode(payload, rows, head_dim, &all_k, &all_v));
  k->resize(select.size() * head_dim);
  v->resize(select.size() * head_dim);
  for (size_t i = 0; i < select.size(); ++i) {
    std::copy_n(all_k.data() + select[i] * head_dim, head_dim, k->data() + i * head_dim);
    std::copy_n(all_v.data() + select[i] * head_dim, head_dim, v->data() + i * head_dim);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Codec>> MakeCodec(std::string_view name) {
  if (name == "f32") return std::make_unique<DenseCodec>(DType::kF32);
  if (name == "f16") return std::make_unique<DenseCodec>(DType::kF16);
  if (name == "bf16") return std::make_unique<DenseCodec>(DType::kBF16);
  auto invalid = [&](const std::string& what) {
    return absl::InvalidArgumentError(absl::StrCat("KV codec '", std::string(name), "': ", what));
  };
  auto term = ParseSpecTerm(name);
  if (!term.ok() || (term->name != "kivi" && term->name != "flexgen")) {
    return absl::InvalidArgumentError(absl::StrCat("unknown KV codec '", std::string(name),
                                                   "' (known: f32, f16, bf16, kivi{...}, flexgen{...})"));
  }
  const bool kivi = term->name == "kivi";
  int64_t bits = kivi ? 2 : 4, group = kivi ? 32 : 64, residual = 128;
  for (const auto& [k, v] : term->params) {
    int64_t* target = k == "bits" ? &bits : k == "group" ? &group : (kivi && k == "residual") ? &residual : nullptr;
    if (target == nullptr) {
      return invalid(absl::StrCat("unknown parameter '", k, "' (known: bits, group", kivi ? ", residual" : "", ")"));
    }
    auto parsed = ParseCount(v);
    if (!parsed.ok()) return invalid(absl::StrCat(k, ": ", parsed.status().message()));
    *target = *parsed;
  }
  if (bits != 2 && bits != 4) return invalid(absl::StrCat("bits must be 2 or 4, got ", bits));
  if (group < 1 || group > 4096) return invalid(absl::StrCat("group must be in [1, 4096], got ", group));
  if (residual > (int64_t{1} << 30)) return invalid("residual is too large");
  if (kivi) return NewKiviCodec(static_cast<int>(bits), group, residual);
  return NewFlexGenCodec(static_cast<int>(bits), group);
}

absl::Status CheckCodecFits(std::string_view name, int64_t head_dim) {
  KVLAB_ASSIGN_OR_RETURN(SpecTerm term, ParseSpecTerm(name));
  if (term.name != "kivi" && term.name != "flexgen") return absl::OkStatus();
  KVLAB_ASSIGN_OR_RETURN(auto codec, MakeCodec(name));
  (void)codec;
  const int64_t group = term.params.count("group") ? *ParseCount(term.params["group"])
                                                   : (term.name == "kivi" ? 32 : 64);
  if (head_dim % group != 0) {
    return absl::InvalidArgumentError(absl::StrCat("KV codec ", std::string(name), ": group ", group,
                                                   " does not divide the model's head_dim ", head_dim));
  }
  return absl::OkStatus();
}

}  // namespace kvlab
