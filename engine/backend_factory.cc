// NewBackend: a backend chosen by name (see backend.h).
#include <charconv>
#include <optional>

#include "absl/strings/str_cat.h"
#include "engine/backend.h"
#include "engine/cuda/cuda_backend.h"

namespace kvlab {
namespace {

absl::StatusOr<std::optional<DType>> ParseDTypeFlag(std::string_view what, std::string_view s) {
  if (s.empty()) return std::optional<DType>();
  if (s == "f32") return std::optional<DType>(DType::kF32);
  if (s == "f16") return std::optional<DType>(DType::kF16);
  if (s == "bf16") return std::optional<DType>(DType::kBF16);
  return absl::InvalidArgumentError(
      absl::StrCat(std::string(what), " '", std::string(s), "' is not one of f32, f16, bf16"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Backend>> NewBackend(std::string_view spec, std::string_view kv_dtype,
                                                    std::string_view weights_dtype) {
  absl::StatusOr<std::optional<DType>> kv = ParseDTypeFlag("KV dtype", kv_dtype);
  if (!kv.ok()) return kv.status();
  absl::StatusOr<std::optional<DType>> weights = ParseDTypeFlag("weights dtype", weights_dtype);
  if (!weights.ok()) return weights.status();
  if (spec == "auto") spec = CudaDeviceCount() > 0 ? "cuda" : "cpu";
  if (spec == "cpu") {
    if (kv->has_value() && **kv != DType::kF32) {
      return absl::InvalidArgumentError("the cpu backend keeps KV caches in f32 only");
    }
    return NewCpuBackend(weights->value_or(DType::kF32));
  }
  if (spec == "cuda" || spec.starts_with("cuda:")) {
    CudaBackendOptions options;
    if (spec.size() > 5) {
      const std::string_view num = spec.substr(5);
      auto [ptr, ec] = std::from_chars(num.data(), num.data() + num.size(), options.device);
      if (ec != std::errc() || ptr != num.data() + num.size() || options.device < 0) {
        return absl::InvalidArgumentError(absl::StrCat("backend '", std::string(spec), "': bad device number"));
      }
    }
    if (kv->has_value()) options.kv_dtype = **kv;
    options.weights_dtype = *weights;
    return NewCudaBackend(options);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("backend '", std::string(spec), "' is not one of cpu, cuda, cuda:N, auto"));
}

}  // namespace kvlab
