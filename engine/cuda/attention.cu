// FlashAttention-style tiles on CUDA cores, in f32: a thread block takes up to
// 64 packed query rows of one tile (queries x heads of a GQA group) and walks
// the tile's key segments 32 keys at a time. K and V blocks are staged in
// shared memory (converted from the cache dtype); each warp owns up to 16
// rows, a lane scores one key of the block, the row's online-softmax state
// (max, sum) is kept by warp reductions and its output accumulator in
// registers (lane owns dims lane, lane + 32, ...). The n x n score matrix is
// never formed. Split-K (flash-decoding) gives each thread block a share of
// the key blocks and merges the partial states in a second kernel.
#include <cfloat>

#include "engine/cuda/attention.h"
#include "engine/cuda/elem.cuh"

namespace kvlab::cuda {
namespace {

constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr int kBlockRows = 64;
constexpr int kRowsPerWarp = kBlockRows / kWarps;
constexpr int kKeys = 32;

// Shared memory of one thread block.
template <int HD>
struct Smem {
  float q[kBlockRows][HD];
  float k[kKeys][HD + 1];  // padded: lanes read different rows
  float v[kKeys][HD];
  int64_t row[kBlockRows], lo[kBlockRows], wlo[kBlockRows];
  int32_t head[kBlockRows], query[kBlockRows];
  int64_t key[kKeys];
};

__device__ __forceinline__ float WarpMax(float x) {
  for (int o = 16; o > 0; o >>= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, o));
  return x;
}
__device__ __forceinline__ float WarpSum(float x) {
  for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
  return x;
}

// Number of 32-key blocks of tile t's segments.
__device__ int64_t KeyBlocks(const AttentionWork& w, const DeviceTile& t) {
  int64_t b = 0;
  for (int s = t.seg_begin; s < t.seg_end; ++s) b += (w.segs[s].end - w.segs[s].begin + kKeys - 1) / kKeys;
  return b;
}

// Loads the keys [k0, k0 + kb) of `seg` (K, and V when `with_v`) into smem.
template <typename T, int HD>
__device__ void LoadKeys(const AttentionWork& w, const DeviceTile& t, const DeviceSegment& seg, int64_t k0, int kb,
                         bool with_v, Smem<HD>& sm) {
  const int64_t hd = w.hd;
  if (threadIdx.x < kKeys) {
    const int j = threadIdx.x;
    sm.key[j] = j < kb ? (seg.gathered ? w.keys[t.keys_offset + k0 + j] : k0 + j) : -1;
  }
  __syncthreads();
  const T* kh = static_cast<const T*>(w.k) + t.kv_head * w.cap * hd;
  const T* vh = static_cast<const T*>(w.v) + t.kv_head * w.cap * hd;
  for (int64_t idx = threadIdx.x; idx < kKeys * hd; idx += kThreads) {
    const int j = static_cast<int>(idx / hd), d = static_cast<int>(idx - j * hd);
    const int64_t key = sm.key[j];
    sm.k[j][d] = key >= 0 ? ToF32(kh[key * hd + d]) : 0.0f;
    if (with_v) sm.v[j][d] = key >= 0 ? ToF32(vh[key * hd + d]) : 0.0f;
  }
  __syncthreads();
}

// Scaled score of smem query row rr against key `lane` of the block; -inf
// when the pair is outside the row's visible range in `seg`.
template <int HD>
__device__ __forceinline__ float Score(const AttentionWork& w, const Smem<HD>& sm, const DeviceSegment& seg, int rr,
                                       int lane) {
  const int64_t key = sm.key[lane];
  const int64_t low = seg.row_lo ? max(sm.lo[rr], sm.wlo[rr]) : sm.wlo[rr];
  if (key < 0 || key > sm.row[rr] || key < low) return -INFINITY;
  float s = 0.0f;
  for (int d = 0; d < w.hd; ++d) s = fmaf(sm.q[rr][d], sm.k[lane][d], s);
  return s;
}

// Calls fn(seg, k0, kb) for the key blocks [b_begin, b_end) of tile t.
template <typename Fn>
__device__ __forceinline__ void ForKeyBlocks(const AttentionWork& w, const DeviceTile& t, int64_t b_begin, int64_t b_end, Fn fn) {
  int64_t b = 0;
  for (int s = t.seg_begin; s < t.seg_end && b < b_end; ++s) {
    const DeviceSegment seg = w.segs[s];
    for (int64_t k0 = seg.begin; k0 < seg.end; k0 += kKeys, ++b) {
      if (b < b_begin) continue;
      if (b >= b_end) break;
      fn(seg, k0, static_cast<int>(seg.end - k0 < kKeys ? seg.end - k0 : kKeys));
    }
  }
}

template <typename T, int HD>
__global__ void __launch_bounds__(kThreads) AttentionKernel(AttentionWork w) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  Smem<HD>& sm = *reinterpret_cast<Smem<HD>*>(smem_raw);
  const DeviceTile t = w.tiles[blockIdx.x];
  const int rows_total = (t.q_end - t.q_begin) * t.heads;
  const int r0 = blockIdx.y * kBlockRows;
  if (r0 >= rows_total) return;
  const int rows = min(kBlockRows, rows_total - r0);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  for (int r = threadIdx.x; r < rows; r += kThreads) {
    const int pr = r0 + r, i = pr / t.heads, j = pr - i * t.heads;
    sm.row[r] = w.row[t.query_offset + i];
    sm.lo[r] = w.lo[t.query_offset + i];
    sm.wlo[r] = w.wlo[t.query_offset + i];
    sm.head[r] = t.head0 + j;
    sm.query[r] = t.q_begin + i;
  }
  __syncthreads();
  for (int64_t idx = threadIdx.x; idx < static_cast<int64_t>(rows) * w.hd; idx += kThreads) {
    const int r = static_cast<int>(idx / w.hd), d = static_cast<int>(idx - r * w.hd);
    sm.q[r][d] = w.q[(static_cast<int64_t>(sm.query[r]) * w.hq + sm.head[r]) * w.hd + d] * w.scale;
  }
  // This warp's rows [my0, my0 + mine).
  const int per_warp = (rows + kWarps - 1) / kWarps;
  const int my0 = warp * per_warp, mine = max(0, min(per_warp, rows - my0));
  constexpr int kDims = HD / 32;
  float m[kRowsPerWarp], l[kRowsPerWarp], acc[kRowsPerWarp][kDims];
#pragma unroll
  for (int k = 0; k < kRowsPerWarp; ++k) {
    m[k] = -INFINITY;
    l[k] = 0.0f;
#pragma unroll
    for (int x = 0; x < kDims; ++x) acc[k][x] = 0.0f;
  }
  const int64_t blocks = KeyBlocks(w, t);
  const int64_t b_begin = blocks * blockIdx.z / w.splits, b_end = blocks * (blockIdx.z + 1) / w.splits;
  ForKeyBlocks(w, t, b_begin, b_end, [&](const DeviceSegment& seg, int64_t k0, int kb) {
    LoadKeys<T, HD>(w, t, seg, k0, kb, /*with_v=*/true, sm);
#pragma unroll
    for (int k = 0; k < kRowsPerWarp; ++k) {
      if (k >= mine) break;
      const int rr = my0 + k;
      const float s = Score(w, sm, seg, rr, lane);
      const float mx = WarpMax(s);
      if (mx == -INFINITY) continue;  // the row sees nothing in this block
      const float m_new = fmaxf(m[k], mx);
      const float alpha = m[k] == -INFINITY ? 0.0f : expf(m[k] - m_new);
      const float p = s == -INFINITY ? 0.0f : expf(s - m_new);
      l[k] = l[k] * alpha + WarpSum(p);
      m[k] = m_new;
#pragma unroll
      for (int x = 0; x < kDims; ++x) acc[k][x] *= alpha;
      for (int jj = 0; jj < kb; ++jj) {
        const float pj = __shfl_sync(0xffffffffu, p, jj);
#pragma unroll
        for (int x = 0; x < kDims; ++x) {
          const int d = lane + 32 * x;
          if (d < w.hd) acc[k][x] = fmaf(pj, sm.v[jj][d], acc[k][x]);
        }
      }
    }
    __syncthreads();
  });
#pragma unroll
  for (int k = 0; k < kRowsPerWarp; ++k) {
    if (k >= mine) break;
    const int rr = my0 + k;
    if (w.splits == 1) {
      const float inv = l[k] > 0.0f ? 1.0f / l[k] : 0.0f;
      float* dst = w.out + (static_cast<int64_t>(sm.query[rr]) * w.hq + sm.head[rr]) * w.hd;
#pragma unroll
      for (int x = 0; x < kDims; ++x) {
        const int d = lane + 32 * x;
        if (d < w.hd) dst[d] = acc[k][x] * inv;
      }
    } else {
      const int64_t max_rows = w.max_tile_rows;
      float* p = w.partial + ((static_cast<int64_t>(blockIdx.x) * w.splits + blockIdx.z) * max_rows + r0 + rr) *
                                 (w.hd + 2);
      if (lane == 0) {
        p[0] = m[k];
        p[1] = l[k];
      }
#pragma unroll
      for (int x = 0; x < kDims; ++x) {
        const int d = lane + 32 * x;
        if (d < w.hd) p[2 + d] = acc[k][x];
      }
    }
  }
  if (w.mass == nullptr || w.splits != 1) return;
  // Second pass: add each computed pair's final probability to the mass.
  ForKeyBlocks(w, t, 0, blocks, [&](const DeviceSegment& seg, int64_t k0, int kb) {
    LoadKeys<T, HD>(w, t, seg, k0, kb, /*with_v=*/false, sm);
#pragma unroll
    for (int k = 0; k < kRowsPerWarp; ++k) {
      if (k >= mine) break;
      const int rr = my0 + k;
      const float s = Score(w, sm, seg, rr, lane);
      const int64_t key = sm.key[lane];
      if (s != -INFINITY && l[k] > 0.0f && key < w.mass_cols) {
        atomicAdd(&w.mass[sm.head[rr] * w.mass_cols + key], expf(s - m[k]) / l[k]);
      }
    }
    __syncthreads();
  });
}

// Merges the split partial states of every row: grid (tiles, rows).
__global__ void CombineKernel(AttentionWork w) {
  const DeviceTile t = w.tiles[blockIdx.x];
  const int rows_total = (t.q_end - t.q_begin) * t.heads;
  const int r = blockIdx.y;
  if (r >= rows_total) return;
  const int64_t max_rows = w.max_tile_rows, stride = w.hd + 2;
  const float* base = w.partial + static_cast<int64_t>(blockIdx.x) * w.splits * max_rows * stride + r * stride;
  float mx = -INFINITY;
  for (int s = 0; s < w.splits; ++s) mx = fmaxf(mx, base[s * max_rows * stride]);
  const int i = r / t.heads, j = r - i * t.heads;
  float* dst = w.out + ((static_cast<int64_t>(t.q_begin) + i) * w.hq + t.head0 + j) * w.hd;
  float l = 0.0f;
  for (int s = 0; s < w.splits; ++s) {
    const float ms = base[s * max_rows * stride];
    if (ms != -INFINITY) l += expf(ms - mx) * base[s * max_rows * stride + 1];
  }
  const float inv = l > 0.0f ? 1.0f / l : 0.0f;
  for (int d = threadIdx.x; d < w.hd; d += blockDim.x) {
    float a = 0.0f;
    for (int s = 0; s < w.splits; ++s) {
      const float ms = base[s * max_rows * stride];
      if (ms != -INFINITY) a += expf(ms - mx) * base[s * max_rows * stride + 2 + d];
    }
    dst[d] = a * inv;
  }
}

template <typename T, int HD>
cudaError_t Launch(cudaStream_t stream, const AttentionWork& w) {
  const size_t smem = sizeof(Smem<HD>);
  cudaError_t e = cudaFuncSetAttribute(AttentionKernel<T, HD>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       static_cast<int>(smem));
  if (e != cudaSuccess) return e;
  const dim3 grid(w.num_tiles, (w.max_tile_rows + kBlockRows - 1) / kBlockRows, w.splits);
  AttentionKernel<T, HD><<<grid, kThreads, smem, stream>>>(w);
  e = cudaGetLastError();
  if (e != cudaSuccess || w.splits == 1) return e;
  CombineKernel<<<dim3(w.num_tiles, w.max_tile_rows), 128, 0, stream>>>(w);
  return cudaGetLastError();
}

// One block per (query head, estimate query): row max, then the sum of
// exponentials, then each probability added to its column and diagonal.
template <typename T>
__global__ void VerticalSlashKernel(const float* q, const T* k, int64_t n, int64_t hq, int64_t hd, int64_t hkv,
                                    int64_t cap, const int64_t* kv_len, int64_t lq, float scale, double* vertical,
                                    double* slash, int64_t stride) {
  __shared__ float qs[kMaxAttentionHeadDim];
  __shared__ float fred[32];
  __shared__ double dred[32];
  const int64_t h = blockIdx.x, t = blockIdx.y, kvh = h / (hq / hkv);
  const int64_t r = kv_len[kvh] - lq + t;  // this query's cache row
  const float* qr = q + ((n - lq + t) * hq + h) * hd;
  for (int64_t d = threadIdx.x; d < hd; d += blockDim.x) qs[d] = qr[d];
  __syncthreads();
  const T* kh = k + kvh * cap * hd;
  auto score = [&](int64_t j) {
    float s = 0.0f;
    for (int64_t d = 0; d < hd; ++d) s = fmaf(qs[d], ToF32(kh[j * hd + d]), s);
    return s * scale;
  };
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  float mx = -FLT_MAX;
  for (int64_t j = threadIdx.x; j <= r; j += blockDim.x) mx = fmaxf(mx, score(j));
  mx = WarpMax(mx);
  if (lane == 0) fred[warp] = mx;
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int x = 1; x < warps; ++x) fred[0] = fmaxf(fred[0], fred[x]);
  }
  __syncthreads();
  mx = fred[0];
  double sum = 0.0;
  for (int64_t j = threadIdx.x; j <= r; j += blockDim.x) sum += exp(static_cast<double>(score(j)) - mx);
  for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
  if (lane == 0) dred[warp] = sum;
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int x = 1; x < warps; ++x) dred[0] += dred[x];
  }
  __syncthreads();
  const double inv = 1.0 / dred[0];
  for (int64_t j = threadIdx.x; j <= r; j += blockDim.x) {
    const double p = exp(static_cast<double>(score(j)) - mx) * inv;
    atomicAdd(&vertical[h * stride + j], p);
    atomicAdd(&slash[h * stride + r - j], p);
  }
}

}  // namespace

int64_t AttentionHeadDimLimit(int64_t smem_optin) {
  if (smem_optin >= static_cast<int64_t>(sizeof(Smem<256>))) return 256;
  if (smem_optin >= static_cast<int64_t>(sizeof(Smem<128>))) return 128;
  if (smem_optin >= static_cast<int64_t>(sizeof(Smem<64>))) return 64;
  return 0;
}

int64_t AttentionPartialFloats(int64_t num_tiles, int64_t max_tile_rows, int64_t splits, int64_t hd) {
  return num_tiles * splits * max_tile_rows * (hd + 2);
}

cudaError_t LaunchAttention(cudaStream_t stream, const AttentionWork& w) {
  if (w.num_tiles == 0) return cudaSuccess;
  if (w.hd > kMaxAttentionHeadDim) return cudaErrorInvalidValue;
  cudaError_t e = cudaSuccess;
  KVLAB_DISPATCH_DTYPE(w.kv_type, T, {
    if (w.hd <= 64) {
      e = Launch<T, 64>(stream, w);
    } else if (w.hd <= 128) {
      e = Launch<T, 128>(stream, w);
    } else {
      e = Launch<T, 256>(stream, w);
    }
  });
  return e;
}

cudaError_t LaunchVerticalSlashEstimate(cudaStream_t stream, const float* q, const void* k, DType kv_type,
                                        int64_t n, int64_t hq, int64_t hd, int64_t hkv, int64_t cap,
                                        const int64_t* kv_len, int64_t lq, float scale, double* vertical,
                                        double* slash, int64_t stride) {
  if (hd > kMaxAttentionHeadDim) return cudaErrorInvalidValue;
  const dim3 grid(static_cast<unsigned>(hq), static_cast<unsigned>(lq));
  KVLAB_DISPATCH_DTYPE(kv_type, T,
                       VerticalSlashKernel<T><<<grid, 256, 0, stream>>>(q, static_cast<const T*>(k), n, hq, hd, hkv,
                                                                        cap, kv_len, lq, scale, vertical, slash,
                                                                        stride));
  return cudaGetLastError();
}

}  // namespace kvlab::cuda
