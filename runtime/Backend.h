//===- Backend.h - what a device provides to the executor -------*- C++ -*-===//
//
// The executor (Executor.h) walks a program once for every backend: it binds
// the symbols, plans the arena, resolves each op's operands to addresses and
// shapes, handles the collectives' chunk layout and the slicing ops with
// strided copies, and keeps traces and checkpoints. A backend provides only
// device memory, copies, one kernel per compute op, timing marks, and a
// point where enqueued work completes. Adding an op costs one schema entry,
// one lowering, and one method here with one implementation per backend.
//
// Every call may be asynchronous (the CUDA backend enqueues on its stream);
// finish() waits and reports errors a kernel could only flag on the device.
//
//===----------------------------------------------------------------------===//
#ifndef ROSE_RUNTIME_BACKEND_H
#define ROSE_RUNTIME_BACKEND_H

#include "runtime/Elementwise.h"
#include "runtime/Program_generated.h"
#include "runtime/Shape.h"
#include "runtime/Status.h"
#include "runtime/Storage.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace rose {

struct Entry;

class RankWeights;

using Shape = std::vector<int64_t>;

class Backend {
public:
  virtual ~Backend() = default;
  virtual const char *name() const = 0;
  /// How float values are stored (the arena plan is in F32 slots; narrower
  /// storage fits in them).
  virtual Storage storage() const = 0;
  /// True when device memory is host memory (values can be read in place).
  virtual bool hostAccessible() const = 0;

  // --- Memory --------------------------------------------------------------
  /// A device allocation, freed by the backend that made it.
  struct Free {
    Backend *backend = nullptr;
    void operator()(void *p) const {
      if (p)
        backend->release(p);
    }
  };
  using Buffer = std::unique_ptr<void, Free>;
  /// `bytes` of device memory, 256-byte aligned; `what` names the use in
  /// the out-of-memory error.
  StatusOr<Buffer> allocate(size_t bytes, const char *what);
  /// The params `entry` reads, placed on the device in the storage type
  /// (null for params it never reads). Owned by the backend.
  virtual StatusOr<std::vector<const void *>>
  placeParams(const Entry &entry, const RankWeights &weights) = 0;

  // --- Copies ----------------------------------------------------------------
  /// Host bytes to device (e.g. token ids); the host data may change after
  /// the call returns.
  virtual Status upload(void *device, const void *host, size_t bytes) = 0;
  /// n stored floats to host float32, complete when this returns.
  virtual Status download(float *host, const void *device, size_t n) = 0;
  /// `bytes` zero bytes at `device`.
  virtual Status zero(void *device, size_t bytes) = 0;
  /// `rows` rows of `width` bytes, at pitches (a strided 2-D copy).
  virtual Status copy2D(void *dst, size_t dstPitch, const void *src,
                        size_t srcPitch, size_t width, size_t rows) = 0;

  // --- Kernels (shapes are checked by the program checker) -----------------
  /// y[t, :] = table[ids[t] - first, :] for first <= ids[t] < first + rows;
  /// zeros elsewhere when `masked` (vocab-parallel lookup), else an id
  /// outside the table is an error (now or at finish()).
  virtual Status embedding(const void *table, int64_t rows, int64_t dim,
                           const int64_t *ids, int64_t tokens, int64_t first,
                           bool masked, void *y) = 0;
  /// out[b, s] = s + offset.
  virtual Status positions(int64_t *out, int64_t batch, int64_t seq,
                           int64_t offset) = 0;
  /// For b < batch: y_b[m, n] = x_b[m, :] . w_b (+ bias[n]), where x_b is at
  /// x + b * xStride, w_b at w + b * wStride (0: one w for every batch) and
  /// y_b at y + b * m * n (strides in elements); w_b is [k, n], or [n, k]
  /// transposed; then `epilogue` on every element of y (the same function
  /// as the backend's gelu).
  virtual Status matmul(const void *x, const void *w, const void *bias,
                        int64_t batch, int64_t m, int64_t k, int64_t n,
                        bool transposed, int64_t xStride, int64_t wStride,
                        Epilogue epilogue, void *y) = 0;
  /// Elementwise with numpy broadcasting to `outShape`.
  virtual Status binary(BinaryKind kind, const void *a, const Shape &aShape,
                        const void *b, const Shape &bShape, void *y,
                        const Shape &outShape) = 0;
  /// y = c != 0 ? a : b, the three broadcasting to `outShape`.
  virtual Status where(const void *c, const Shape &cShape, const void *a,
                       const Shape &aShape, const void *b, const Shape &bShape,
                       void *y, const Shape &outShape) = 0;
  /// y[0..n) = value.
  virtual Status fill(void *y, int64_t n, float value) = 0;
  /// y[i] = float(x[i]) for n I64 elements (exact up to 2^24).
  virtual Status castToFloat(const int64_t *x, int64_t n, void *y) = 0;
  /// Over `batch` matrices [rows, cols]: keeps (i, j) where j <= i + k
  /// (upper: j >= i + k), else 0.
  virtual Status trilu(const void *x, int64_t batch, int64_t rows, int64_t cols,
                       int64_t k, bool upper, void *y) = 0;
  /// Reduces the middle dim of [outer, axis, inner] to [outer, 1, inner],
  /// accumulating in float32 or wider.
  virtual Status reduce(ReduceKind kind, const void *x, int64_t outer,
                        int64_t axis, int64_t inner, void *y) = 0;
  /// Layer norm over the last dim; without `bias` (null), RMS norm:
  /// x / sqrt(mean(x^2) + eps) * scale. Statistics in float32 or wider.
  virtual Status layerNorm(const void *x, const void *scale, const void *bias,
                           int64_t rows, int64_t dim, double eps, void *y) = 0;
  virtual Status gelu(const void *x, int64_t n, bool tanhForm, void *y) = 0;
  /// Rotary embedding of `rows` tokens of [heads x headDim] at `positions`
  /// (int64, one per row): the first 2 x pairs dims of each head turn by
  /// positions[r] x invFreq[i] (a host array); rotate-half or interleaved
  /// pairs.
  virtual Status rotary(const void *x, const int64_t *positions, int64_t rows,
                        int64_t heads, int64_t headDim, const float *invFreq,
                        int64_t pairs, bool interleaved, void *y) = 0;
  /// y = fn(x), elementwise.
  virtual Status unary(UnaryKind fn, const void *x, int64_t n, void *y) = 0;
  /// Softmax over the middle dim of [outer, axis, inner].
  virtual Status softmax(const void *x, int64_t outer, int64_t axis,
                         int64_t inner, void *y) = 0;
  /// Multi-head attention (AttentionShape) of q [batch, seq, heads x
  /// headDim] over k, v [batch, kvRows, kvHeads x headDim].
  virtual Status attention(const void *q, const void *k, const void *v,
                           const AttentionShape &shape, void *y) = 0;
  /// y dim i is x dim perm[i].
  virtual Status transpose(const void *x, const Shape &shape,
                           const std::vector<int64_t> &perm, void *y) = 0;

  // --- Timing and completion -------------------------------------------------
  /// Records timing mark `slot` (marks are numbered from 0 per call).
  virtual Status mark(size_t slot) = 0;
  /// Microseconds from mark 0 to each of marks [0, count), after finish().
  virtual StatusOr<std::vector<double>> markTimes(size_t count) = 0;
  /// Called before a call's first op (clears device-side error flags).
  virtual Status beginCall() { return Status::success(); }
  /// Waits for the enqueued work; reports errors kernels flagged.
  virtual Status finish() = 0;
  /// Enqueues `work` (one call's ops) as one replayable unit where the
  /// backend can: the CUDA backend captures it into a graph and launches
  /// that, updating the previous capture's graph in place when only kernel
  /// arguments differ (a decode step differs from the last in its cache
  /// length). Default: runs `work`.
  virtual Status launchCaptured(const std::function<Status()> &work) {
    return work();
  }

protected:
  virtual StatusOr<void *> rawAllocate(size_t bytes) = 0;
  virtual void release(void *p) = 0;
};

inline StatusOr<Backend::Buffer> Backend::allocate(size_t bytes,
                                                   const char *what) {
  auto p = rawAllocate(bytes ? bytes : 1);
  if (!p)
    return Status::error("out of ", name(), " memory: ", what, " needs ", bytes,
                         " bytes");
  return Buffer(*p, Free{this});
}

} // namespace rose

#endif // ROSE_RUNTIME_BACKEND_H
