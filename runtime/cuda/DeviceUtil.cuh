//===- DeviceUtil.cuh - helpers of rose's CUDA kernels ------*- CUDA -*-===//
//
// Storage-type loads and stores (every kernel computes in float), dispatch
// on Storage, launch sizes, grid-stride loops and warp reductions.
//
//===----------------------------------------------------------------------===//
#ifndef ROSE_RUNTIME_CUDA_DEVICEUTIL_CUH
#define ROSE_RUNTIME_CUDA_DEVICEUTIL_CUH

#include "runtime/cuda/Kernels.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace rose::cuda::detail {

constexpr int kThreads = 256;

template <typename T> __device__ __forceinline__ float load(const T *p) {
  return static_cast<float>(*p);
}
template <> __device__ __forceinline__ float load(const __nv_bfloat16 *p) {
  return __bfloat162float(*p);
}
template <> __device__ __forceinline__ float load(const __half *p) {
  return __half2float(*p);
}
template <typename T> __device__ __forceinline__ T store(float v);
template <> __device__ __forceinline__ float store<float>(float v) { return v; }
template <> __device__ __forceinline__ __nv_bfloat16 store(float v) {
  return __float2bfloat16(v);
}
template <> __device__ __forceinline__ __half store(float v) {
  return __float2half(v);
}

/// Calls f.template operator()<T>() for the storage type.
template <typename F> inline void dispatch(Storage s, F &&f) {
  switch (s) {
  case Storage::F32:
    f(float());
    return;
  case Storage::BF16:
    f(__nv_bfloat16());
    return;
  case Storage::F16:
    f(__half());
    return;
  }
}

inline unsigned blocksFor(int64_t n, int threads) {
  int64_t blocks = (n + threads - 1) / threads;
  // Grid-stride loops cover the rest.
  return static_cast<unsigned>(blocks < 65535 * 16 ? (blocks ? blocks : 1)
                                                   : 65535 * 16);
}

#define GRID_STRIDE(i, n)                                                      \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n);    \
       i += int64_t(gridDim.x) * blockDim.x)

__device__ __forceinline__ float warpSum(float v) {
  for (int o = 16; o; o >>= 1)
    v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warpMax(float v) {
  for (int o = 16; o; o >>= 1)
    v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

} // namespace rose::cuda::detail

#endif // ROSE_RUNTIME_CUDA_DEVICEUTIL_CUH
