#include "services/common/request_context.h"

#include <atomic>
#include <random>

#include "absl/strings/str_format.h"

namespace kvlab {

std::string NewRequestId() {
  static std::atomic<uint64_t> counter{0};
  static const uint64_t salt = std::random_device{}();
  return absl::StrFormat("r-%016x", salt * 0x9E3779B97F4A7C15ull + counter.fetch_add(1));
}

}  // namespace kvlab
