//===- Kernels.h - rose's own CUDA kernels ----------------------*- C++ -*-===//
//
// Host-side launchers for the kernels in Kernels.cu and ElementwiseKernels.cu.
// Activations are stored in one of three element types (Storage); every
// kernel computes in float (reductions, softmax and layernorm statistics
// included), so bf16/fp16 lose precision only where a value is stored. All
// launches are asynchronous on `stream` and may be captured into a CUDA graph.
//
//===----------------------------------------------------------------------===//
#ifndef ROSE_RUNTIME_CUDA_KERNELS_H
#define ROSE_RUNTIME_CUDA_KERNELS_H

#include "runtime/Elementwise.h"
#include "runtime/Shape.h"
#include "runtime/Storage.h"

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace rose::cuda {

/// How activations and weights are stored on the device.
using rose::Storage;
using rose::storageBytes;

/// Up to this many dims in broadcasting and transposes (GPT graphs use <= 5).
inline constexpr int kMaxDims = 8;
/// Up to this many ranks share one GPU through the in-process communicator.
inline constexpr int kMaxLocalRanks = 16;

/// y = x converted from `from` to `to` (n elements).
void convert(Storage from, const void *x, Storage to, void *y, int64_t n,
             cudaStream_t stream);

/// y[t, :] = table[ids[t] - first, :] where first <= ids[t] < first + rows,
/// else zeros (vocab-parallel masked lookup). When !masked, an id outside
/// the table sets *error to 1 (+ the id) instead of reading out of bounds.
void embedding(Storage s, const void *table, int64_t rows, int64_t dim,
               const int64_t *ids, int64_t tokens, int64_t first, bool masked,
               void *y, int64_t *error, cudaStream_t stream);
/// out[b, s] = s + offset.
void positions(int64_t *out, int64_t batch, int64_t seq, int64_t offset,
               cudaStream_t stream);

/// y[r, :] += bias[:] (cuBLAS GEMMs leave the bias to this).
void biasAdd(Storage s, void *y, const void *bias, int64_t rows, int64_t n,
             cudaStream_t stream);

/// Elementwise with broadcasting: the strides give each output dim's step in
/// each operand (0 where broadcast), over `rank` dims of `shape`.
struct BroadcastShape {
  int rank = 0;
  int64_t shape[kMaxDims] = {};
  int64_t aStride[kMaxDims] = {}, bStride[kMaxDims] = {},
          cStride[kMaxDims] = {};
};
void binary(Storage s, BinaryKind kind, const void *a, const void *b, void *y,
            const BroadcastShape &shape, int64_t n, cudaStream_t stream);
/// y = c != 0 ? a : b, with the strides of a, b and c.
void where(Storage s, const void *c, const void *a, const void *b, void *y,
           const BroadcastShape &shape, int64_t n, cudaStream_t stream);
/// y = fn(x), elementwise (Elementwise.h).
void unary(Storage s, UnaryKind kind, const void *x, int64_t n, void *y,
           cudaStream_t stream);
/// y[0..n) = value.
void fill(Storage s, void *y, int64_t n, float value, cudaStream_t stream);
/// y[i] = x[i] as a float, stored in `s`.
void castToFloat(Storage s, const int64_t *x, int64_t n, void *y,
                 cudaStream_t stream);
/// Over `batch` matrices [rows, cols]: (i, j) kept where j <= i + k (upper:
/// j >= i + k), else 0.
void trilu(Storage s, const void *x, int64_t batch, int64_t rows, int64_t cols,
           int64_t k, bool upper, void *y, cudaStream_t stream);
/// [outer, axis, inner] -> [outer, 1, inner], accumulated in float.
void reduce(Storage s, ReduceKind kind, const void *x, int64_t outer,
            int64_t axis, int64_t inner, void *y, cudaStream_t stream);

/// Without `bias` (null): RMS norm, x / sqrt(mean(x^2) + eps) * scale.
void layerNorm(Storage s, const void *x, const void *scale, const void *bias,
               int64_t rows, int64_t dim, float eps, void *y,
               cudaStream_t stream);
void gelu(Storage s, const void *x, int64_t n, bool tanhForm, void *y,
          cudaStream_t stream);
/// The most frequencies the rotary kernel takes (a rotated width of 256).
inline constexpr int64_t kMaxRotaryPairs = 128;
/// Rotary embedding (Backend::rotary); `invFreq` is a host array, passed by
/// value to the kernel. Returns false for more than kMaxRotaryPairs.
bool rotary(Storage s, const void *x, const int64_t *positions, int64_t rows,
            int64_t heads, int64_t headDim, const float *invFreq, int64_t pairs,
            bool interleaved, void *y, cudaStream_t stream);
/// Softmax over the middle dim of [outer, axis, inner].
void softmax(Storage s, const void *x, int64_t outer, int64_t axis,
             int64_t inner, void *y, cudaStream_t stream);

/// The largest head dim the fused attention kernel takes.
inline constexpr int64_t kMaxHeadDim = 256;
/// Fused (flash-style) multi-head attention of q [batch, seq, heads *
/// headDim] over k, v [batch, kvRows, kvHeads * headDim] (AttentionShape in
/// runtime/Shape.h: a KV cache when keys > seq): scores are formed a tile
/// at a time with an online softmax, so nothing of size seq x keys is ever
/// stored. Returns false when headDim is above kMaxHeadDim or the launch
/// cannot be configured.
bool attention(Storage s, const void *q, const void *k, const void *v,
               const AttentionShape &shape, void *y, cudaStream_t stream);

/// y dim i is x dim perm[i]; `shape` is x's shape.
void transpose(Storage s, const void *x, int rank, const int64_t *shape,
               const int64_t *perm, void *y, cudaStream_t stream);

/// For the ranks sharing one GPU: every dst[d][0..n) = sum over sources (in
/// order) of src[i][0..n). Sources and destinations may alias.
void sumInto(Storage s, const void *const *src, int nsrc, void *const *dst,
             int ndst, int64_t n, cudaStream_t stream);

} // namespace rose::cuda

#endif // ROSE_RUNTIME_CUDA_KERNELS_H
