//===- Kernels.h - CPU kernels ----------------------------------*- C++ -*-===//
#ifndef ROSE_RUNTIME_CPU_KERNELS_H
#define ROSE_RUNTIME_CPU_KERNELS_H

#include "runtime/Elementwise.h"
#include "runtime/Shape.h"

#include <cstdint>
#include <vector>

namespace rose::cpu {

using Shape = std::vector<int64_t>;

/// y[t, :] = table[ids[t] - first, :] when first <= ids[t] < first + rows,
/// else zeros (the vocab-parallel masked lookup; first = 0 when whole).
void embedding(const float *table, int64_t rows, int64_t dim,
               const int64_t *ids, int64_t tokens, int64_t first, float *y);

/// y[m, n] = x[m, :] . w[:, n] (+ bias[n]); w is [k, n], or [n, k] when
/// `transposed`. OpenBLAS sgemm over column blocks; `epilogue` (GELU) runs
/// on each block as soon as it is computed, with gelu()'s formula, so the
/// fused call equals matmul then gelu bit for bit.
void matmul(const float *x, const float *w, const float *bias, int64_t m,
            int64_t k, int64_t n, bool transposed, float *y,
            Epilogue epilogue = Epilogue::None);

/// Elementwise with numpy broadcasting to `outShape`.
void binary(BinaryKind kind, const float *a, const Shape &aShape,
            const float *b, const Shape &bShape, float *y,
            const Shape &outShape);

/// Without `bias` (null): RMS norm, x / sqrt(mean(x^2) + eps) * scale.
void layerNorm(const float *x, const float *scale, const float *bias,
               int64_t rows, int64_t dim, double eps, float *y);
void gelu(const float *x, int64_t n, bool tanhForm, float *y);
/// y = c != 0 ? a : b, broadcasting to `outShape`.
void where(const float *c, const Shape &cShape, const float *a,
           const Shape &aShape, const float *b, const Shape &bShape, float *y,
           const Shape &outShape);
/// Over `batch` matrices [rows, cols]: (i, j) kept where j <= i + k (upper:
/// j >= i + k), else 0.
void trilu(const float *x, int64_t batch, int64_t rows, int64_t cols, int64_t k,
           bool upper, float *y);
/// [outer, axis, inner] -> [outer, 1, inner], accumulated in double.
void reduce(ReduceKind kind, const float *x, int64_t outer, int64_t axis,
            int64_t inner, float *y);
/// y = fn(x), elementwise (Elementwise.h).
void unary(UnaryKind kind, const float *x, int64_t n, float *y);
/// Rotary embedding (Backend::rotary): angles position x invFreq[i] in
/// float32, as Hugging Face computes them.
void rotary(const float *x, const int64_t *positions, int64_t rows,
            int64_t heads, int64_t headDim, const float *invFreq, int64_t pairs,
            bool interleaved, float *y);
/// Softmax along `axis` of `shape`.
void softmax(const float *x, const Shape &shape, int64_t axis, float *y);

/// Multi-head attention of q [batch, seq, heads * headDim] over k, v
/// [batch, kvRows, kvHeads * headDim] (AttentionShape in Shape.h).
void attention(const float *q, const float *k, const float *v,
               const AttentionShape &shape, float *y);

/// Permutes dims: y dim i is x dim perm[i].
void transpose(const float *x, const Shape &shape,
               const std::vector<int64_t> &perm, float *y);
/// Sets the OpenBLAS thread count (shared by all ranks of the process).
void setBlasThreads(int threads);

} // namespace rose::cpu

#endif // ROSE_RUNTIME_CPU_KERNELS_H
