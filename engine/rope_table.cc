#include "engine/rope_table.h"

#include <cmath>

namespace kvlab {

void FillRopeTable(std::span<const int32_t> positions, std::span<const float> inv_freq, float* t) {
  const size_t half = inv_freq.size();
  for (size_t i = 0; i < positions.size(); ++i) {
    for (size_t j = 0; j < half; ++j) {
      const float angle = static_cast<float>(positions[i]) * inv_freq[j];
      t[(i * half + j) * 2] = static_cast<float>(std::cos(static_cast<double>(angle)));
      t[(i * half + j) * 2 + 1] = static_cast<float>(std::sin(static_cast<double>(angle)));
    }
  }
}

}  // namespace kvlab
