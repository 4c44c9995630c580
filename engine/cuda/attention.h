// Internal: the CUDA backend's attention kernels. The host builds the work
// (tiles, key segments and per-query bounds, from engine/attention_geometry.h,
// the same lists the CPU backend walks) and these kernels run it.
#ifndef KVLAB_ENGINE_CUDA_ATTENTION_H_
#define KVLAB_ENGINE_CUDA_ATTENTION_H_

#include <cuda_runtime_api.h>

#include <cstdint>

#include "engine/dtype.h"

namespace kvlab::cuda {

// One tile (AttentionTile) with its slices of the flattened geometry.
struct DeviceTile {
  int32_t kv_head, head0, heads, q_begin, q_end;
  int32_t seg_begin, seg_end;  // its segments in AttentionWork::segs
  int32_t query_offset;        // its queries' bounds start at row/lo/wlo[query_offset]
  int64_t keys_offset;         // its gathered keys start at keys[keys_offset]
};

// KeySegment on the device.
struct DeviceSegment {
  int64_t begin, end;
  int32_t row_lo, gathered;
};

struct AttentionWork {
  const float* q;    // [n, hq, hd]
  const void* k;     // [hkv, cap, hd] of kv_type
  const void* v;
  DType kv_type;
  float* out;        // [n, hq, hd]
  int64_t n, hq, hd, hkv, cap;
  float scale;
  const DeviceTile* tiles;
  int32_t num_tiles;
  int32_t max_tile_rows;  // most packed rows of a tile (queries x heads)
  const DeviceSegment* segs;
  const int64_t* row;
  const int64_t* lo;
  const int64_t* wlo;
  const int64_t* keys;
  // Optional [hq, mass_cols]: += probability of every computed pair.
  float* mass;
  int64_t mass_cols;
  // Split-K (flash-decoding): each tile's key blocks are divided among
  // `splits` thread blocks whose partial softmax states (partial, sized by
  // AttentionPartialFloats) are merged by a second kernel. 1: no split.
  int32_t splits;
  float* partial;
};

// Floats of AttentionWork::partial for `splits` > 1.
int64_t AttentionPartialFloats(int64_t num_tiles, int64_t max_tile_rows, int64_t splits, int64_t hd);

// Largest head_dim the kernels take.
inline constexpr int64_t kMaxAttentionHeadDim = 256;

// The largest head_dim whose kernel fits `smem_optin` bytes of shared memory
// per block (cudaDevAttrMaxSharedMemoryPerBlockOptin); 0 if none does.
int64_t AttentionHeadDimLimit(int64_t smem_optin);

// Runs the attention of `work` (and the mass pass when work.mass is set;
// mass needs splits == 1). Returns the first launch error.
cudaError_t LaunchAttention(cudaStream_t stream, const AttentionWork& work);

// vertical_slash estimate: for every query head h and each of the last `lq`
// queries (cache rows kv_len[h/group] - lq .. - 1), the causal softmax of its
// scores over keys; adds each probability to vertical[h, j] and
// slash[h, r - j] (double, [hq, stride], zeroed by the caller).
cudaError_t LaunchVerticalSlashEstimate(cudaStream_t stream, const float* q, const void* k, DType kv_type,
                                        int64_t n, int64_t hq, int64_t hd, int64_t hkv, int64_t cap,
                                        const int64_t* kv_len, int64_t lq, float scale, double* vertical,
                                        double* slash, int64_t stride);

}  // namespace kvlab::cuda

#endif  // KVLAB_ENGINE_CUDA_ATTENTION_H_
