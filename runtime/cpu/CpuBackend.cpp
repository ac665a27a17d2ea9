//===- CpuBackend.cpp - the executor's CPU backend ------------------------===//
#include "runtime/cpu/CpuBackend.h"
#include "runtime/Program.h"
#include "runtime/Weights.h"
#include "runtime/cpu/Kernels.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

using namespace rose;
using namespace rose::cpu;

static const float *f(const void *p) { return static_cast<const float *>(p); }
static float *f(void *p) { return static_cast<float *>(p); }

StatusOr<void *> CpuBackend::rawAllocate(size_t bytes) {
  void *p = std::aligned_alloc(256, (bytes + 255) / 256 * 256);
  if (!p)
    return Status::error("out of memory");
  return p;
}

void CpuBackend::release(void *p) { std::free(p); }

StatusOr<std::vector<const void *>>
CpuBackend::placeParams(const Entry &entry, const RankWeights &weights) {
  // Read in place: the weights outlive the executor.
  std::vector<const void *> params;
  std::vector<bool> used = entry.usedParams();
  for (size_t i = 0; i < used.size(); ++i)
    params.push_back(used[i] ? weights.param(i) : nullptr);
  return params;
}

Status CpuBackend::upload(void *device, const void *host, size_t bytes) {
  if (bytes)
    std::memcpy(device, host, bytes);
  return Status::success();
}

Status CpuBackend::download(float *host, const void *device, size_t n) {
  if (n)
    std::memcpy(host, device, n * sizeof(float));
  return Status::success();
}

Status CpuBackend::zero(void *device, size_t bytes) {
  if (bytes)
    std::memset(device, 0, bytes);
  return Status::success();
}

Status CpuBackend::copy2D(void *dst, size_t dstPitch, const void *src,
                          size_t srcPitch, size_t width, size_t rows) {
  for (size_t r = 0; r < rows; ++r)
    std::memcpy(static_cast<char *>(dst) + r * dstPitch,
                static_cast<const char *>(src) + r * srcPitch, width);
  return Status::success();
}

Status CpuBackend::embedding(const void *table, int64_t rows, int64_t dim,
                             const int64_t *ids, int64_t tokens, int64_t first,
                             bool masked, void *y) {
  if (!masked)
    for (int64_t t = 0; t < tokens; ++t)
      if (ids[t] < 0 || ids[t] >= rows)
        return Status::error("index ", ids[t], " is out of range for its ",
                             rows,
                             " rows (sequence longer than the model's "
                             "positions?)");
  cpu::embedding(f(table), rows, dim, ids, tokens, first, f(y));
  return Status::success();
}

Status CpuBackend::positions(int64_t *out, int64_t batch, int64_t seq,
                             int64_t offset) {
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t s = 0; s < seq; ++s)
      out[b * seq + s] = s + offset;
  return Status::success();
}

Status CpuBackend::matmul(const void *x, const void *w, const void *bias,
                          int64_t batch, int64_t m, int64_t k, int64_t n,
                          bool transposed, int64_t xStride, int64_t wStride,
                          Epilogue epilogue, void *y) {
  for (int64_t b = 0; b < batch; ++b)
    cpu::matmul(f(x) + b * xStride, f(w) + b * wStride, f(bias), m, k, n,
                transposed, f(y) + b * m * n, epilogue);
  return Status::success();
}

Status CpuBackend::binary(BinaryKind kind, const void *a, const Shape &aShape,
                          const void *b, const Shape &bShape, void *y,
                          const Shape &outShape) {
  cpu::binary(kind, f(a), aShape, f(b), bShape, f(y), outShape);
  return Status::success();
}

Status CpuBackend::where(const void *c, const Shape &cShape, const void *a,
                         const Shape &aShape, const void *b,
                         const Shape &bShape, void *y, const Shape &outShape) {
  cpu::where(f(c), cShape, f(a), aShape, f(b), bShape, f(y), outShape);
  return Status::success();
}

Status CpuBackend::fill(void *y, int64_t n, float value) {
  std::fill(f(y), f(y) + n, value);
  return Status::success();
}

Status CpuBackend::castToFloat(const int64_t *x, int64_t n, void *y) {
  std::transform(x, x + n, f(y), [](int64_t v) { return float(v); });
  return Status::success();
}

Status CpuBackend::trilu(const void *x, int64_t batch, int64_t rows,
                         int64_t cols, int64_t k, bool upper, void *y) {
  cpu::trilu(f(x), batch, rows, cols, k, upper, f(y));
  return Status::success();
}

Status CpuBackend::reduce(ReduceKind kind, const void *x, int64_t outer,
                          int64_t axis, int64_t inner, void *y) {
  cpu::reduce(kind, f(x), outer, axis, inner, f(y));
  return Status::success();
}

Status CpuBackend::layerNorm(const void *x, const void *scale, const void *bias,
                             int64_t rows, int64_t dim, double eps, void *y) {
  cpu::layerNorm(f(x), f(scale), f(bias), rows, dim, eps, f(y));
  return Status::success();
}

Status CpuBackend::gelu(const void *x, int64_t n, bool tanhForm, void *y) {
  cpu::gelu(f(x), n, tanhForm, f(y));
  return Status::success();
}

Status CpuBackend::rotary(const void *x, const int64_t *positions, int64_t rows,
                          int64_t heads, int64_t headDim, const float *invFreq,
                          int64_t pairs, bool interleaved, void *y) {
  cpu::rotary(f(x), positions, rows, heads, headDim, invFreq, pairs,
              interleaved, f(y));
  return Status::success();
}

Status CpuBackend::unary(UnaryKind fn, const void *x, int64_t n, void *y) {
  cpu::unary(fn, f(x), n, f(y));
  return Status::success();
}

Status CpuBackend::softmax(const void *x, int64_t outer, int64_t axis,
                           int64_t inner, void *y) {
  cpu::softmax(f(x), {outer, axis, inner}, 1, f(y));
  return Status::success();
}

Status CpuBackend::attention(const void *q, const void *k, const void *v,
                             const AttentionShape &shape, void *y) {
  cpu::attention(f(q), f(k), f(v), shape, f(y));
  return Status::success();
}

Status CpuBackend::transpose(const void *x, const Shape &shape,
                             const std::vector<int64_t> &perm, void *y) {
  cpu::transpose(f(x), shape, perm, f(y));
  return Status::success();
}

Status CpuBackend::mark(size_t slot) {
  if (marks.size() <= slot)
    marks.resize(slot + 1);
  marks[slot] = std::chrono::steady_clock::now();
  return Status::success();
}

StatusOr<std::vector<double>> CpuBackend::markTimes(size_t count) {
  if (count > marks.size())
    return Status::error("timing marks: ", count, " asked, ", marks.size(),
                         " recorded");
  std::vector<double> times;
  for (size_t i = 0; i < count; ++i)
    times.push_back(
        std::chrono::duration<double, std::micro>(marks[i] - marks[0]).count());
  return times;
}
