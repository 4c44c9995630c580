// The RoPE cos/sin table every backend uses (Backend::RopeTable).
#ifndef KVLAB_ENGINE_ROPE_TABLE_H_
#define KVLAB_ENGINE_ROPE_TABLE_H_

#include <cstdint>
#include <span>

namespace kvlab {

// Fills table [positions.size(), inv_freq.size(), 2] with (cos, sin) of
// positions[i] * inv_freq[j], the angle rounded to f32 first as Hugging Face's
// f32 matmul does, cos/sin evaluated in double. Thread-safe.
void FillRopeTable(std::span<const int32_t> positions, std::span<const float> inv_freq, float* table);

}  // namespace kvlab

#endif  // KVLAB_ENGINE_ROPE_TABLE_H_
