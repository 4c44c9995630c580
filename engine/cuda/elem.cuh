// Internal (device code): loading and storing f32 / f16 / bf16 elements as f32.
#ifndef KVLAB_ENGINE_CUDA_ELEM_CUH_
#define KVLAB_ENGINE_CUDA_ELEM_CUH_

#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace kvlab::cuda {

template <typename T>
__device__ __forceinline__ float ToF32(T x);
template <>
__device__ __forceinline__ float ToF32<float>(float x) { return x; }
template <>
__device__ __forceinline__ float ToF32<__half>(__half x) { return __half2float(x); }
template <>
__device__ __forceinline__ float ToF32<__nv_bfloat16>(__nv_bfloat16 x) { return __bfloat162float(x); }

// Round-to-nearest-even, as FloatToHalf / FloatToBF16 on the host.
template <typename T>
__device__ __forceinline__ T FromF32(float x);
template <>
__device__ __forceinline__ float FromF32<float>(float x) { return x; }
template <>
__device__ __forceinline__ __half FromF32<__half>(float x) { return __float2half_rn(x); }
template <>
__device__ __forceinline__ __nv_bfloat16 FromF32<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }

}  // namespace kvlab::cuda

// Calls F.template operator()<T>() with T the element type of `dtype`.
#define KVLAB_DISPATCH_DTYPE(dtype, T, ...)              \
  switch (dtype) {                                       \
    case ::kvlab::DType::kF32: {                         \
      using T = float;                                   \
      __VA_ARGS__;                                       \
    } break;                                             \
    case ::kvlab::DType::kF16: {                         \
      using T = __half;                                  \
      __VA_ARGS__;                                       \
    } break;                                             \
    case ::kvlab::DType::kBF16: {                        \
      using T = __nv_bfloat16;                           \
      __VA_ARGS__;                                       \
    } break;                                             \
  }

#endif  // KVLAB_ENGINE_CUDA_ELEM_CUH_
