//===- Kernels.cu - rose's own CUDA kernels -------------------------------===//
//
// Every kernel is templated on the storage type T (float, __nv_bfloat16,
// __half) and computes in float. Launchers dispatch on Storage.
//
//===----------------------------------------------------------------------===//
#include "runtime/CheckedMath.h"
#include "runtime/cuda/DeviceUtil.cuh"
#include "runtime/cuda/Kernels.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cfloat>

using namespace rose::cuda;
using namespace rose::cuda::detail;

namespace {

template <typename From, typename To>
__global__ void convertKernel(const From *x, To *y, int64_t n) {
  GRID_STRIDE(i, n) { y[i] = store<To>(load(x + i)); }
}

template <typename T>
__global__ void embeddingKernel(const T *table, int64_t rows, int64_t dim,
                                const int64_t *ids, int64_t tokens,
                                int64_t first, bool masked, T *y,
                                int64_t *error) {
  GRID_STRIDE(i, tokens * dim) {
    int64_t t = i / dim, d = i % dim;
    int64_t row = ids[t] - first;
    bool inside = row >= 0 && row < rows;
    if (!inside && !masked && d == 0 &&
        atomicCAS(reinterpret_cast<unsigned long long *>(error), 0ull, 1ull) ==
            0ull)
      error[1] = ids[t];
    y[i] = inside ? table[row * dim + d] : store<T>(0.0f);
  }
}

__global__ void positionsKernel(int64_t *out, int64_t batch, int64_t seq,
                                int64_t offset) {
  GRID_STRIDE(i, batch * seq) { out[i] = i % seq + offset; }
}

/// One warp per row; two passes (mean, then variance about it) in float.
template <typename T>
__global__ void layerNormKernel(const T *x, const T *scale, const T *bias,
                                int64_t rows, int64_t dim, float eps, T *y) {
  int64_t row = blockIdx.x * int64_t(blockDim.x / 32) + threadIdx.x / 32;
  int lane = threadIdx.x % 32;
  if (row >= rows)
    return;
  const T *xr = x + row * dim;
  T *yr = y + row * dim;
  if (!bias) { // RMS norm
    float sq = 0.0f;
    for (int64_t d = lane; d < dim; d += 32) {
      float v = load(xr + d);
      sq += v * v;
    }
    float inv = rsqrtf(warpSum(sq) / dim + eps);
    for (int64_t d = lane; d < dim; d += 32)
      yr[d] = store<T>(load(xr + d) * inv * load(scale + d));
    return;
  }
  float sum = 0.0f;
  for (int64_t d = lane; d < dim; d += 32)
    sum += load(xr + d);
  float mean = warpSum(sum) / dim;
  float sq = 0.0f;
  for (int64_t d = lane; d < dim; d += 32) {
    float c = load(xr + d) - mean;
    sq += c * c;
  }
  float inv = rsqrtf(warpSum(sq) / dim + eps);
  for (int64_t d = lane; d < dim; d += 32)
    yr[d] = store<T>((load(xr + d) - mean) * inv * load(scale + d) +
                     load(bias + d));
}

template <typename T>
__global__ void geluKernel(const T *x, int64_t n, bool tanhForm, T *y) {
  GRID_STRIDE(i, n) {
    float v = load(x + i);
    float g = tanhForm ? 0.5f * v *
                             (1.0f + tanhf(0.7978845608028654f *
                                           (v + 0.044715f * v * v * v)))
                       : 0.5f * v * (1.0f + erff(v * 0.7071067811865476f));
    y[i] = store<T>(g);
  }
}

/// One warp per (outer, inner) line of `axis` elements.
template <typename T>
__global__ void softmaxKernel(const T *x, int64_t outer, int64_t axis,
                              int64_t inner, T *y) {
  int64_t line = blockIdx.x * int64_t(blockDim.x / 32) + threadIdx.x / 32;
  int lane = threadIdx.x % 32;
  if (line >= outer * inner)
    return;
  int64_t base = (line / inner) * axis * inner + line % inner;
  float mx = -INFINITY;
  for (int64_t a = lane; a < axis; a += 32)
    mx = fmaxf(mx, load(x + base + a * inner));
  mx = warpMax(mx);
  float sum = 0.0f;
  for (int64_t a = lane; a < axis; a += 32)
    sum += __expf(load(x + base + a * inner) - mx);
  sum = warpSum(sum);
  for (int64_t a = lane; a < axis; a += 32)
    y[base + a * inner] =
        store<T>(__expf(load(x + base + a * inner) - mx) / sum);
}

// Flash-style attention. A block of 4 warps takes 32 query rows of one
// (batch, head); each warp owns 8 rows. Keys and values stream through
// shared memory 32 at a time: lane j scores key j against a row, the warp
// folds the tile into the row's running max/sum (online softmax), and lane l
// accumulates output dims l, l + 32, ... So memory is O(seq * headDim), never
// O(seq^2).
constexpr int kAttnWarps = 4, kAttnRowsPerWarp = 8,
              kAttnQueryTile = kAttnWarps * kAttnRowsPerWarp, kAttnKeyTile = 32;

template <typename T, int DPL>
__global__ void __launch_bounds__(kAttnWarps * 32)
    attentionKernel(const T *q, const T *k, const T *v, int64_t seq,
                    int64_t keys, int64_t kvRows, int64_t heads,
                    int64_t kvHeads, int64_t headDim, bool causal, float scale,
                    T *y) {
  extern __shared__ float smem[];
  const int64_t dim = headDim, stride = heads * headDim;
  const int64_t kvStride = kvHeads * headDim;
  const int64_t kPitch = dim + 1;         // odd pitch: lanes hit distinct banks
  float *qs = smem;                       // [QueryTile][dim]
  float *ks = qs + kAttnQueryTile * dim;  // [KeyTile][kPitch]
  float *vs = ks + kAttnKeyTile * kPitch; // [KeyTile][dim]
  const int64_t b = blockIdx.y / heads, h = blockIdx.y % heads;
  const int64_t q0 = blockIdx.x * int64_t(kAttnQueryTile);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t base = b * seq * stride + h * dim;
  // Grouped-query attention: query head h reads kv head h / (heads / kv).
  const int64_t kvBase = b * kvRows * kvStride + (h / (heads / kvHeads)) * dim;
  // Query i is position before + i of the keys (a KV cache before it).
  const int64_t before = keys - seq;

  for (int64_t i = threadIdx.x; i < kAttnQueryTile * dim; i += blockDim.x) {
    int64_t r = i / dim, d = i % dim;
    qs[i] = q0 + r < seq ? load(q + base + (q0 + r) * stride + d) * scale : 0.f;
  }
  float m[kAttnRowsPerWarp], l[kAttnRowsPerWarp], acc[kAttnRowsPerWarp][DPL];
  for (int r = 0; r < kAttnRowsPerWarp; ++r) {
    m[r] = -INFINITY;
    l[r] = 0.0f;
    for (int d = 0; d < DPL; ++d)
      acc[r][d] = 0.0f;
  }
  int64_t keyEnd = causal ? min(keys, before + q0 + kAttnQueryTile) : keys;
  for (int64_t k0 = 0; k0 < keyEnd; k0 += kAttnKeyTile) {
    __syncthreads();
    for (int64_t i = threadIdx.x; i < kAttnKeyTile * dim; i += blockDim.x) {
      int64_t j = i / dim, d = i % dim;
      bool in = k0 + j < keyEnd;
      ks[j * kPitch + d] =
          in ? load(k + kvBase + (k0 + j) * kvStride + d) : 0.f;
      vs[j * dim + d] = in ? load(v + kvBase + (k0 + j) * kvStride + d) : 0.f;
    }
    __syncthreads();
    const int64_t key = k0 + lane;
    const int64_t last = min(int64_t(kAttnKeyTile), keyEnd - k0);
    // Fully unrolled (no break) so m, l and acc stay in registers.
#pragma unroll
    for (int r = 0; r < kAttnRowsPerWarp; ++r) {
      const int64_t row = warp * kAttnRowsPerWarp + r, query = q0 + row;
      if (query < seq) { // uniform across the warp
        const float *qr = qs + row * dim, *kr = ks + lane * kPitch;
        float s = 0.0f;
        for (int64_t d = 0; d < dim; ++d)
          s += qr[d] * kr[d];
        bool valid = key < keyEnd && (!causal || key <= before + query);
        s = valid ? s : -INFINITY;
        float newMax = fmaxf(m[r], warpMax(s));
        if (newMax != -INFINITY) { // else every key so far is masked
          float p = valid ? __expf(s - newMax) : 0.0f;
          float correction = __expf(m[r] - newMax); // 0 when m was -inf
          l[r] = l[r] * correction + warpSum(p);
          m[r] = newMax;
#pragma unroll
          for (int d = 0; d < DPL; ++d)
            acc[r][d] *= correction;
          for (int j = 0; j < last; ++j) {
            float pj = __shfl_sync(0xffffffffu, p, j);
#pragma unroll
            for (int d = 0; d < DPL; ++d) {
              int64_t dd = lane + 32 * d;
              if (dd < dim)
                acc[r][d] += pj * vs[j * dim + dd];
            }
          }
        }
      }
    }
  }
#pragma unroll
  for (int r = 0; r < kAttnRowsPerWarp; ++r) {
    int64_t query = q0 + warp * kAttnRowsPerWarp + r;
    if (query >= seq)
      continue;
    // l > 0: the diagonal key is never masked.
    float inv = 1.0f / l[r];
#pragma unroll
    for (int d = 0; d < DPL; ++d) {
      int64_t dd = lane + 32 * d;
      if (dd < dim)
        y[base + query * stride + dd] = store<T>(acc[r][d] * inv);
    }
  }
}

template <typename T>
__global__ void transposeKernel(const T *x, int rank, BroadcastShape shape,
                                T *y, int64_t n) {
  // shape.shape: output dims; shape.aStride: x's stride of each output dim.
  GRID_STRIDE(i, n) {
    int64_t rest = i, xi = 0;
    for (int d = rank - 1; d >= 0; --d) {
      xi += (rest % shape.shape[d]) * shape.aStride[d];
      rest /= shape.shape[d];
    }
    y[i] = x[xi];
  }
}

template <typename T> struct Pointers {
  const T *src[kMaxLocalRanks];
  T *dst[kMaxLocalRanks];
};

template <typename T>
__global__ void sumIntoKernel(Pointers<T> p, int nsrc, int ndst, int64_t n) {
  GRID_STRIDE(i, n) {
    float sum = 0.0f;
    for (int s = 0; s < nsrc; ++s)
      sum += load(p.src[s] + i);
    T out = store<T>(sum);
    for (int d = 0; d < ndst; ++d)
      p.dst[d][i] = out;
  }
}

} // namespace

void rose::cuda::convert(Storage from, const void *x, Storage to, void *y,
                         int64_t n, cudaStream_t stream) {
  dispatch(from, [&](auto f) {
    using From = decltype(f);
    dispatch(to, [&](auto t) {
      using To = decltype(t);
      convertKernel<<<blocksFor(n, kThreads), kThreads, 0, stream>>>(
          static_cast<const From *>(x), static_cast<To *>(y), n);
    });
  });
}

void rose::cuda::embedding(Storage s, const void *table, int64_t rows,
                           int64_t dim, const int64_t *ids, int64_t tokens,
                           int64_t first, bool masked, void *y, int64_t *error,
                           cudaStream_t stream) {
  dispatch(s, [&](auto t) {
    using T = decltype(t);
    embeddingKernel<<<blocksFor(tokens * dim, kThreads), kThreads, 0, stream>>>(
        static_cast<const T *>(table), rows, dim, ids, tokens, first, masked,
        static_cast<T *>(y), error);
  });
}

void rose::cuda::positions(int64_t *out, int64_t batch, int64_t seq,
                           int64_t offset, cudaStream_t stream) {
  positionsKernel<<<blocksFor(batch * seq, kThreads), kThreads, 0, stream>>>(
      out, batch, seq, offset);
}

void rose::cuda::layerNorm(Storage s, const void *x, const void *scale,
                           const void *bias, int64_t rows, int64_t dim,
                           float eps, void *y, cudaStream_t stream) {
  constexpr int warps = 8;
  dispatch(s, [&](auto t) {
    using T = decltype(t);
    layerNormKernel<<<static_cast<unsigned>((rows + warps - 1) / warps),
                      warps * 32, 0, stream>>>(
        static_cast<const T *>(x), static_cast<const T *>(scale),
        static_cast<const T *>(bias), rows, dim, eps, static_cast<T *>(y));
  });
}

void rose::cuda::gelu(Storage s, const void *x, int64_t n, bool tanhForm,
                      void *y, cudaStream_t stream) {
  dispatch(s, [&](auto t) {
    using T = decltype(t);
    geluKernel<<<blocksFor(n, kThreads), kThreads, 0, stream>>>(
        static_cast<const T *>(x), n, tanhForm, static_cast<T *>(y));
  });
}

namespace {
/// The frequencies travel as a kernel argument (<= 512 bytes).
struct RotaryFreqs {
  float f[rose::cuda::kMaxRotaryPairs];
};
} // namespace

/// One thread per (row, head, pair); dims past the rotated ones are copied
/// by the pair-0 thread of each head.
template <typename T>
__global__ void rotaryKernel(const T *x, const int64_t *positions, int64_t rows,
                             int64_t heads, int64_t headDim, RotaryFreqs freqs,
                             int64_t pairs, bool interleaved, T *y) {
  GRID_STRIDE(t, rows * heads * pairs) {
    int64_t i = t % pairs, rh = t / pairs, r = rh / heads, h = rh % heads;
    int64_t base = (r * heads + h) * headDim;
    float angle = static_cast<float>(positions[r]) * freqs.f[i];
    float c = cosf(angle), s = sinf(angle);
    int64_t a = interleaved ? 2 * i : i,
            b = interleaved ? 2 * i + 1 : i + pairs;
    float xa = load(x + base + a), xb = load(x + base + b);
    y[base + a] = store<T>(xa * c - xb * s);
    y[base + b] = store<T>(xb * c + xa * s);
    if (i == 0)
      for (int64_t d = 2 * pairs; d < headDim; ++d)
        y[base + d] = x[base + d];
  }
}

bool rose::cuda::rotary(Storage s, const void *x, const int64_t *positions,
                        int64_t rows, int64_t heads, int64_t headDim,
                        const float *invFreq, int64_t pairs, bool interleaved,
                        void *y, cudaStream_t stream) {
  if (pairs < 1 || pairs > kMaxRotaryPairs)
    return false;
  RotaryFreqs freqs{};
  for (int64_t i = 0; i < pairs; ++i)
    freqs.f[i] = invFreq[i];
  int64_t n = rows * heads * pairs;
  dispatch(s, [&](auto t) {
    using T = decltype(t);
    rotaryKernel<<<blocksFor(n, kThreads), kThreads, 0, stream>>>(
        static_cast<const T *>(x), positions, rows, heads, headDim, freqs,
        pairs, interleaved, static_cast<T *>(y));
  });
  return true;
}

void rose::cuda::softmax(Storage s, const void *x, int64_t outer, int64_t axis,
                         int64_t inner, void *y, cudaStream_t stream) {
  constexpr int warps = 8;
  dispatch(s, [&](auto t) {
    using T = decltype(t);
    softmaxKernel<<<static_cast<unsigned>((outer * inner + warps - 1) / warps),
                    warps * 32, 0, stream>>>(static_cast<const T *>(x), outer,
                                             axis, inner, static_cast<T *>(y));
  });
}

template <typename T, int DPL>
static bool launchAttention(const void *q, const void *k, const void *v,
                            const rose::AttentionShape &a, void *y,
                            cudaStream_t stream) {
  const int64_t headDim = a.headDim;
  size_t smem =
      sizeof(float) * (kAttnQueryTile * headDim + kAttnKeyTile * (headDim + 1) +
                       kAttnKeyTile * headDim);
  auto kernel = attentionKernel<T, DPL>;
  // Above 48 KiB of shared memory a kernel must opt in.
  if (smem > 48 * 1024 &&
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                           static_cast<int>(smem)) != cudaSuccess)
    return false;
  dim3 grid(
      static_cast<unsigned>((a.seq + kAttnQueryTile - 1) / kAttnQueryTile),
      static_cast<unsigned>(a.batch * a.heads));
  kernel<<<grid, kAttnWarps * 32, smem, stream>>>(
      static_cast<const T *>(q), static_cast<const T *>(k),
      static_cast<const T *>(v), a.seq, a.keys, a.kvRows, a.heads, a.kvHeads,
      headDim, a.causal, a.scale, static_cast<T *>(y));
  return true;
}

bool rose::cuda::attention(Storage s, const void *q, const void *k,
                           const void *v, const rose::AttentionShape &a,
                           void *y, cudaStream_t stream) {
  std::optional<int64_t> grid = checkedMul(a.batch, a.heads);
  if (a.headDim < 1 || a.headDim > kMaxHeadDim || !grid || *grid > 65535 ||
      a.kvHeads < 1 || a.heads % a.kvHeads != 0 || a.keys < a.seq ||
      a.kvRows < a.keys)
    return false;
  const int64_t headDim = a.headDim;
  bool ok = false;
  dispatch(s, [&](auto t) {
    using T = decltype(t);
    auto go = [&](auto dpl) {
      ok = launchAttention<T, decltype(dpl)::value>(q, k, v, a, y, stream);
    };
    // Output dims per lane, rounded up to a power of two.
    if (headDim <= 32)
      go(std::integral_constant<int, 1>());
    else if (headDim <= 64)
      go(std::integral_constant<int, 2>());
    else if (headDim <= 128)
      go(std::integral_constant<int, 4>());
    else
      go(std::integral_constant<int, 8>());
  });
  return ok;
}

void rose::cuda::transpose(Storage s, const void *x, int rank,
                           const int64_t *shape, const int64_t *perm, void *y,
                           cudaStream_t stream) {
  int64_t strides[kMaxDims], n = 1;
  for (int d = rank - 1; d >= 0; --d) {
    strides[d] = n;
    n *= shape[d];
  }
  BroadcastShape out;
  out.rank = rank;
  for (int d = 0; d < rank; ++d) {
    out.shape[d] = shape[perm[d]];
    out.aStride[d] = strides[perm[d]];
  }
  dispatch(s, [&](auto t) {
    using T = decltype(t);
    transposeKernel<<<blocksFor(n, kThreads), kThreads, 0, stream>>>(
        static_cast<const T *>(x), rank, out, static_cast<T *>(y), n);
  });
}

void rose::cuda::sumInto(Storage s, const void *const *src, int nsrc,
                         void *const *dst, int ndst, int64_t n,
                         cudaStream_t stream) {
  dispatch(s, [&](auto t) {
    using T = decltype(t);
    Pointers<T> p{};
    for (int i = 0; i < nsrc; ++i)
      p.src[i] = static_cast<const T *>(src[i]);
    for (int i = 0; i < ndst; ++i)
      p.dst[i] = static_cast<T *>(dst[i]);
    sumIntoKernel<<<blocksFor(n, kThreads), kThreads, 0, stream>>>(p, nsrc,
                                                                   ndst, n);
  });
}
