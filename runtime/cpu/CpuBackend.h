//===- CpuBackend.h - the executor's CPU backend ----------------*- C++ -*-===//
//
// Float32 in host memory: params are read in place from the rank's weights
// (the mapped checkpoint or the rank's slice), GEMMs go to OpenBLAS, the
// rest to cpu/Kernels.cpp. Every call completes before it returns.
//
//===----------------------------------------------------------------------===//
#ifndef ROSE_RUNTIME_CPU_CPUBACKEND_H
#define ROSE_RUNTIME_CPU_CPUBACKEND_H

#include "runtime/Backend.h"

#include <chrono>

namespace rose::cpu {

class CpuBackend final : public Backend {
public:
  const char *name() const override { return "CPU"; }
  Storage storage() const override { return Storage::F32; }
  bool hostAccessible() const override { return true; }

  StatusOr<std::vector<const void *>>
  placeParams(const Entry &entry, const RankWeights &weights) override;

  Status upload(void *device, const void *host, size_t bytes) override;
  Status download(float *host, const void *device, size_t n) override;
  Status zero(void *device, size_t bytes) override;
  Status copy2D(void *dst, size_t dstPitch, const void *src, size_t srcPitch,
                size_t width, size_t rows) override;

  Status embedding(const void *table, int64_t rows, int64_t dim,
                   const int64_t *ids, int64_t tokens, int64_t first,
                   bool masked, void *y) override;
  Status positions(int64_t *out, int64_t batch, int64_t seq,
                   int64_t offset) override;
  Status matmul(const void *x, const void *w, const void *bias, int64_t batch,
                int64_t m, int64_t k, int64_t n, bool transposed,
                int64_t xStride, int64_t wStride, Epilogue epilogue,
                void *y) override;
  Status binary(BinaryKind kind, const void *a, const Shape &aShape,
                const void *b, const Shape &bShape, void *y,
                const Shape &outShape) override;
  Status where(const void *c, const Shape &cShape, const void *a,
               const Shape &aShape, const void *b, const Shape &bShape, void *y,
               const Shape &outShape) override;
  Status fill(void *y, int64_t n, float value) override;
  Status castToFloat(const int64_t *x, int64_t n, void *y) override;
  Status trilu(const void *x, int64_t batch, int64_t rows, int64_t cols,
               int64_t k, bool upper, void *y) override;
  Status reduce(ReduceKind kind, const void *x, int64_t outer, int64_t axis,
                int64_t inner, void *y) override;
  Status layerNorm(const void *x, const void *scale, const void *bias,
                   int64_t rows, int64_t dim, double eps, void *y) override;
  Status gelu(const void *x, int64_t n, bool tanhForm, void *y) override;
  Status unary(UnaryKind fn, const void *x, int64_t n, void *y) override;
  Status rotary(const void *x, const int64_t *positions, int64_t rows,
                int64_t heads, int64_t headDim, const float *invFreq,
                int64_t pairs, bool interleaved, void *y) override;
  Status softmax(const void *x, int64_t outer, int64_t axis, int64_t inner,
                 void *y) override;
  Status attention(const void *q, const void *k, const void *v,
                   const AttentionShape &shape, void *y) override;
  Status transpose(const void *x, const Shape &shape,
                   const std::vector<int64_t> &perm, void *y) override;

  Status mark(size_t slot) override;
  StatusOr<std::vector<double>> markTimes(size_t count) override;
  Status finish() override { return Status::success(); }

protected:
  StatusOr<void *> rawAllocate(size_t bytes) override;
  void release(void *p) override;

private:
  std::vector<std::chrono::steady_clock::time_point> marks;
};

} // namespace rose::cpu

#endif // ROSE_RUNTIME_CPU_CPUBACKEND_H
