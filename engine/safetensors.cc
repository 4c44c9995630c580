#include "engine/safetensors.h"

#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace kvlab {
namespace {

// Largest header we accept; the format's reference implementation caps at 100 MB.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

absl::Status Bad(const std::string& path, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("safetensors file '", path, "': ", what));
}

}  // namespace

int64_t TensorView::num_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
  KVLAB_ASSIGN_OR_RETURN(std::unique_ptr<MappedFile> mapped, MappedFile::Open(path));
  std::span<const uint8_t> bytes = mapped->bytes();
  if (bytes.size() < 8) {
    return Bad(path, absl::StrCat("truncated: ", bytes.size(), " bytes, need at least 8"));
  }
  uint64_t header_len = 0;
  for (int i = 0; i < 8; ++i) header_len |= static_cast<uint64_t>(bytes[i]) << (8 * i);
  if (header_len > kMaxHeaderBytes) {
    return Bad(path, absl::StrCat("header length ", header_len, " exceeds the 100 MB limit"));
  }
  if (header_len > bytes.size() - 8) {
    return Bad(path, absl::StrCat("truncated: header of ", header_len, " bytes but the file has ",
                                  bytes.size() - 8, " bytes after the length"));
  }
  std::string_view header_text(reinterpret_cast<const char*>(bytes.data() + 8), header_len);
  nlohmann::json header = nlohmann::json::parse(header_text, nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object()) {
    return Bad(path, "malformed JSON header");
  }
  std::span<const uint8_t> data = bytes.subspan(8 + header_len);

  auto file = std::unique_ptr<SafetensorsFile>(new SafetensorsFile(std::move(mapped)));
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const nlohmann::json& entry = it.value();
    if (name == "__metadata__") {
      if (!entry.is_object()) return Bad(path, "__metadata__ is not an object");
      for (auto m = entry.begin(); m != entry.end(); ++m) {
        if (m.value().is_string()) file->metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    auto where = [&](const std::string& what) { return Bad(path, absl::StrCat("tensor '", name, "': ", what)); };
    if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") ||
        !entry.contains("data_offsets")) {
      return where("entry needs dtype, shape and data_offsets");
    }
    if (!entry["dtype"].is_string()) return where("dtype is not a string");
    std::string dtype_name = entry["dtype"].get<std::string>();
    std::optional<DType> dtype = ParseDType(dtype_name);
    if (!dtype) {
      return absl::UnimplementedError(absl::StrCat("safetensors file '", path, "': tensor '", name,
                                                   "' has unsupported dtype ", dtype_name,
                                                   " (supported: F32, F16, BF16)"));
    }
    const nlohmann::json& shape = entry["shape"];
    const nlohmann::json& offsets = entry["data_offsets"];
    if (!shape.is_array()) return where("shape is not an array");
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
        !offsets[1].is_number_unsigned()) {
      return where("data_offsets must be two non-negative integers");
    }
    TensorView view;
    view.name = name;
    view.dtype = *dtype;
    uint64_t elements = 1;
    for (const auto& d : shape) {
      if (!d.is_number_unsigned()) return where("shape has a negative or non-integer dimension");
      uint64_t dim = d.get<uint64_t>();
      if (dim != 0 && elements > std::numeric_limits<uint64_t>::max() / 4 / dim) {
        return where("shape is too large");
      }
      elements *= dim;
      view.shape.push_back(static_cast<int64_t>(dim));
    }
    uint64_t begin = offsets[0].get<uint64_t>();
    uint64_t end = offsets[1].get<uint64_t>();
    if (end < begin) return where("data_offsets end before they begin");
    if (end > data.size()) {
      return where(absl::StrCat("data ends at byte ", end, " but the data section has only ",
                                data.size(), " bytes (file truncated?)"));
    }
    uint64_t expected = elements * DTypeSize(*dtype);
    if (end - begin != expected) {
      return where(absl::StrCat("data_offsets span ", end - begin, " bytes but shape [",
                                absl::StrJoin(view.shape, ","), "] of ", dtype_name, " needs ",
                                expected));
    }
    view.data = data.subspan(begin, end - begin);
    file->tensors_.emplace(name, std::move(view));
  }
  return file;
}

}  // namespace kvlab
