//===- CudaBackend.h - the executor's CUDA backend --------------*- C++ -*-===//
//
// Activations and weights on one GPU in the run's storage type (fp32, bf16
// or fp16; tf32 is fp32 storage with TF32 GEMMs). GEMMs go to cuBLAS,
// everything else to Kernels.cu, all enqueued on the backend's own stream,
// so a call can be captured into a CUDA graph and replayed. Every CUDA
// resource is held by an RAII handle.
//
//===----------------------------------------------------------------------===//
#ifndef ROSE_RUNTIME_CUDA_CUDABACKEND_H
#define ROSE_RUNTIME_CUDA_CUDABACKEND_H

#include "runtime/Backend.h"
#include "runtime/cuda/Kernels.h"

#include <cublas_v2.h>

#include <memory>
#include <type_traits>

namespace rose::cuda {

/// The numeric mode of a CUDA run: storage type and GEMM math.
enum class Precision { FP32, TF32, BF16, FP16 };
const char *precisionName(Precision p);
inline Storage storageOf(Precision p) {
  return p == Precision::BF16   ? Storage::BF16
         : p == Precision::FP16 ? Storage::F16
                                : Storage::F32;
}

/// Owns one CUDA handle: destroyed with `Destroy` unless null.
template <typename T, auto Destroy> struct Handle {
  T value{};
  Handle() = default;
  Handle(const Handle &) = delete;
  Handle &operator=(const Handle &) = delete;
  Handle(Handle &&o) noexcept : value(o.value) { o.value = T{}; }
  Handle &operator=(Handle &&o) noexcept {
    reset();
    std::swap(value, o.value);
    return *this;
  }
  ~Handle() { reset(); }
  void reset() {
    if (value)
      Destroy(value);
    value = T{};
  }
  T get() const { return value; }
  T *out() {
    reset();
    return &value;
  }
  explicit operator bool() const { return value != T{}; }
};
using StreamHandle = Handle<cudaStream_t, cudaStreamDestroy>;
using EventHandle = Handle<cudaEvent_t, cudaEventDestroy>;
using BlasHandle = Handle<cublasHandle_t, cublasDestroy>;
using GraphHandle = Handle<cudaGraph_t, cudaGraphDestroy>;
using GraphExecHandle = Handle<cudaGraphExec_t, cudaGraphExecDestroy>;
using DeviceMemory = Handle<void *, cudaFree>;
using PinnedMemory = Handle<void *, cudaFreeHost>;

class CudaBackend final : public Backend {
public:
  /// Makes the stream, cuBLAS handle and workspace on the current device.
  static StatusOr<std::unique_ptr<CudaBackend>> create(Precision precision);

  const char *name() const override { return "GPU"; }
  Storage storage() const override { return storage_; }
  bool hostAccessible() const override { return false; }
  cudaStream_t stream() const { return stream_.get(); }
  Precision precision() const { return precision_; }

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
  Status beginCall() override;
  Status finish() override;
  Status launchCaptured(const std::function<Status()> &work) override;
  /// The graph of the work `work` enqueues on this backend's stream.
  StatusOr<GraphHandle> capture(const std::function<Status()> &work);

protected:
  StatusOr<void *> rawAllocate(size_t bytes) override;
  void release(void *p) override;

private:
  GraphExecHandle captured_; // launchCaptured's graph
  explicit CudaBackend(Precision precision)
      : precision_(precision), storage_(storageOf(precision)) {}
  /// A launch error shows up next to the kernel that made it.
  Status launched(const char *what);

  Precision precision_;
  Storage storage_;
  StreamHandle stream_;
  BlasHandle blas;
  DeviceMemory blasWorkspace, errorFlag, downloadStaging;
  /// The params placed so far, for one RankWeights: entries of one program
  /// (generation's prefill and decode) share them instead of uploading
  /// again. One allocation per placeParams call that needed new params.
  std::vector<DeviceMemory> weightBlocks;
  const RankWeights *placedFor = nullptr;
  const void *placedProgram = nullptr;
  std::vector<const void *> placed; // by param index; null: not placed
  size_t downloadCapacity = 0;
  PinnedMemory uploadStaging;
  size_t uploadCapacity = 0;
  std::vector<EventHandle> marks;
};

} // namespace rose::cuda

#endif // ROSE_RUNTIME_CUDA_CUDABACKEND_H
