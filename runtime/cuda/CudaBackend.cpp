//===- CudaBackend.cpp - the executor's CUDA backend ----------------------===//
#include "runtime/cuda/CudaBackend.h"
#include "runtime/Program.h"
#include "runtime/Shape.h"
#include "runtime/Weights.h"
#include "runtime/cuda/Check.h"

#include <cstring>

using namespace rose;
using namespace rose::cuda;

const char *rose::cuda::precisionName(Precision p) {
  switch (p) {
  case Precision::FP32:
    return "fp32";
  case Precision::TF32:
    return "tf32";
  case Precision::BF16:
    return "bf16";
  case Precision::FP16:
    return "fp16";
  }
  return "?";
}

static size_t roundUp(size_t n, size_t a) { return (n + a - 1) / a * a; }

StatusOr<std::unique_ptr<CudaBackend>> CudaBackend::create(Precision p) {
  std::unique_ptr<CudaBackend> b(new CudaBackend(p));
  ROSE_CUDA(cudaStreamCreateWithFlags(b->stream_.out(), cudaStreamNonBlocking));
  ROSE_CUDA(cublasCreate(b->blas.out()));
  ROSE_CUDA(cublasSetStream(b->blas.get(), b->stream()));
  // A fixed workspace: cuBLAS must not allocate while a graph is captured.
  constexpr size_t kWorkspace = 32 << 20;
  ROSE_CUDA(cudaMalloc(b->blasWorkspace.out(), kWorkspace));
  ROSE_CUDA(
      cublasSetWorkspace(b->blas.get(), b->blasWorkspace.get(), kWorkspace));
  ROSE_CUDA(cudaMalloc(b->errorFlag.out(), 2 * sizeof(int64_t)));
  return b;
}

StatusOr<void *> CudaBackend::rawAllocate(size_t bytes) {
  void *p = nullptr;
  if (cudaMalloc(&p, bytes) != cudaSuccess) {
    cudaGetLastError(); // clear the sticky allocation error
    return Status::error("cudaMalloc failed");
  }
  return p;
}

void CudaBackend::release(void *p) { cudaFree(p); }

StatusOr<std::vector<const void *>>
CudaBackend::placeParams(const Entry &entry, const RankWeights &host) {
  // Params already placed for these weights (another entry of the same
  // program) are shared; the rest get one allocation, each param 256-byte
  // aligned.
  if (placedFor != &host || placedProgram != entry.program) {
    placedFor = &host;
    placedProgram = entry.program;
    placed.clear();
  }
  std::vector<Shape> shapes = paramShapes(*entry.program);
  std::vector<bool> used = entry.usedParams();
  placed.resize(std::max(placed.size(), used.size()), nullptr);
  std::vector<bool> upload(used.size(), false);
  size_t es = storageBytes(storage_), total = 0, largest = 0;
  std::vector<size_t> offsets, counts;
  for (size_t i = 0; i < used.size(); ++i) {
    upload[i] = used[i] && !placed[i];
    size_t n = upload[i] ? numElements(shapes[i]) : 0;
    offsets.push_back(total);
    counts.push_back(n);
    total += roundUp(n * es, 256);
    largest = std::max(largest, n);
  }
  DeviceMemory block;
  if (total && cudaMalloc(block.out(), total) != cudaSuccess)
    return Status::error("out of GPU memory: the weights need ", total,
                         " bytes in ", precisionName(precision_));
  // Upload as float through one staging buffer, converting on the device.
  // Copies go on the backend's stream: a pageable cudaMemcpy on the legacy
  // stream is not ordered before kernels on a non-blocking stream.
  DeviceMemory staging;
  if (largest && storage_ != Storage::F32)
    ROSE_CUDA(cudaMalloc(staging.out(), largest * sizeof(float)));
  std::vector<const void *> params;
  for (size_t i = 0; i < offsets.size(); ++i) {
    char *dst = static_cast<char *>(block.get()) + offsets[i];
    if (upload[i])
      placed[i] = dst;
    params.push_back(used[i] ? placed[i] : nullptr);
    if (!upload[i] || counts[i] == 0)
      continue;
    size_t bytes = counts[i] * sizeof(float);
    void *target = storage_ == Storage::F32 ? dst : staging.get();
    ROSE_RETURN_IF_ERROR(
        check(cudaMemcpyAsync(target, host.param(i), bytes,
                              cudaMemcpyHostToDevice, stream()),
              "uploading weights"));
    if (storage_ != Storage::F32)
      convert(Storage::F32, staging.get(), storage_, dst, counts[i], stream());
    ROSE_RETURN_IF_ERROR(
        check(cudaStreamSynchronize(stream()), "uploading weights"));
  }
  if (block.get())
    weightBlocks.push_back(std::move(block));
  return params;
}

Status CudaBackend::upload(void *device, const void *host, size_t bytes) {
  if (bytes == 0)
    return Status::success();
  // Through pinned memory: an async copy from pageable memory may not be
  // captured, and the caller's buffer may change once this returns.
  ROSE_CUDA(cudaStreamSynchronize(stream()));
  if (bytes > uploadCapacity) {
    ROSE_CUDA(cudaMallocHost(uploadStaging.out(), bytes));
    uploadCapacity = bytes;
  }
  std::memcpy(uploadStaging.get(), host, bytes);
  ROSE_CUDA(cudaMemcpyAsync(device, uploadStaging.get(), bytes,
                            cudaMemcpyHostToDevice, stream()));
  return Status::success();
}

Status CudaBackend::download(float *host, const void *device, size_t n) {
  if (n == 0)
    return Status::success();
  const void *source = device;
  if (storage_ != Storage::F32) {
    if (n > downloadCapacity) {
      downloadCapacity = 0;
      ROSE_CUDA(cudaMalloc(downloadStaging.out(), n * sizeof(float)));
      downloadCapacity = n;
    }
    convert(storage_, device, Storage::F32, downloadStaging.get(), n, stream());
    source = downloadStaging.get();
  }
  ROSE_CUDA(cudaMemcpyAsync(host, source, n * sizeof(float),
                            cudaMemcpyDeviceToHost, stream()));
  ROSE_CUDA(cudaStreamSynchronize(stream()));
  return Status::success();
}

Status CudaBackend::zero(void *device, size_t bytes) {
  if (bytes)
    ROSE_CUDA(cudaMemsetAsync(device, 0, bytes, stream()));
  return Status::success();
}

Status CudaBackend::copy2D(void *dst, size_t dstPitch, const void *src,
                           size_t srcPitch, size_t width, size_t rows) {
  if (width == 0 || rows == 0)
    return Status::success();
  ROSE_CUDA(cudaMemcpy2DAsync(dst, dstPitch, src, srcPitch, width, rows,
                              cudaMemcpyDeviceToDevice, stream()));
  return Status::success();
}

Status CudaBackend::launched(const char *what) {
  if (cudaError_t e = cudaGetLastError(); e != cudaSuccess)
    return check(e, what);
  return Status::success();
}

Status CudaBackend::embedding(const void *table, int64_t rows, int64_t dim,
                              const int64_t *ids, int64_t tokens, int64_t first,
                              bool masked, void *y) {
  // An id outside an unmasked table sets the flag finish() reports.
  cuda::embedding(storage_, table, rows, dim, ids, tokens, first, masked, y,
                  static_cast<int64_t *>(errorFlag.get()), stream());
  return launched("embedding");
}

Status CudaBackend::positions(int64_t *out, int64_t batch, int64_t seq,
                              int64_t offset) {
  cuda::positions(out, batch, seq, offset, stream());
  return launched("positions");
}

Status CudaBackend::matmul(const void *x, const void *w, const void *bias,
                           int64_t batch, int64_t m, int64_t k, int64_t n,
                           bool transposed, int64_t xStride, int64_t wStride,
                           Epilogue epilogue, void *y) {
  // Row-major y = x w is column-major y^T = w^T x^T.
  cudaDataType_t type = storage_ == Storage::BF16  ? CUDA_R_16BF
                        : storage_ == Storage::F16 ? CUDA_R_16F
                                                   : CUDA_R_32F;
  cublasComputeType_t compute = precision_ == Precision::TF32
                                    ? CUBLAS_COMPUTE_32F_FAST_TF32
                                    : CUBLAS_COMPUTE_32F;
  float one = 1.0f, zero = 0.0f;
  ROSE_CUDA(cublasGemmStridedBatchedEx(
      blas.get(), transposed ? CUBLAS_OP_T : CUBLAS_OP_N, CUBLAS_OP_N, n, m, k,
      &one, w, type, transposed ? k : n, wStride, x, type, k, xStride, &zero, y,
      type, n, m * n, batch, compute, CUBLAS_GEMM_DEFAULT));
  if (bias)
    biasAdd(storage_, y, bias, batch * m, n, stream());
  // The epilogue as its own kernel, in place (cuBLASLt's GELU epilogue
  // would fuse it; not yet measured).
  if (epilogue != Epilogue::None)
    cuda::gelu(storage_, y, batch * m * n, epilogue == Epilogue::GeluTanh, y,
               stream());
  return launched("bias add / epilogue");
}

/// Output dims and each operand's strides for the broadcasting kernels.
static StatusOr<BroadcastShape> broadcastShape(const Shape &outShape,
                                               const Shape &aShape,
                                               const Shape &bShape,
                                               const Shape &cShape = {}) {
  size_t dims = outShape.size();
  if (dims > static_cast<size_t>(kMaxDims))
    return Status::error(dims, " dims (at most ", kMaxDims, ")");
  std::vector<int64_t> aStrides = broadcastStrides(aShape, dims),
                       bStrides = broadcastStrides(bShape, dims),
                       cStrides = broadcastStrides(cShape, dims);
  BroadcastShape shape;
  shape.rank = static_cast<int>(dims);
  for (size_t d = 0; d < dims; ++d) {
    shape.shape[d] = outShape[d];
    shape.aStride[d] = aStrides[d];
    shape.bStride[d] = bStrides[d];
    shape.cStride[d] = cStrides[d];
  }
  return shape;
}

Status CudaBackend::binary(BinaryKind kind, const void *a, const Shape &aShape,
                           const void *b, const Shape &bShape, void *y,
                           const Shape &outShape) {
  StatusOr<BroadcastShape> shape = broadcastShape(outShape, aShape, bShape);
  if (!shape)
    return shape.status();
  cuda::binary(storage_, kind, a, b, y, *shape, numElements(outShape),
               stream());
  return launched("binary");
}

Status CudaBackend::where(const void *c, const Shape &cShape, const void *a,
                          const Shape &aShape, const void *b,
                          const Shape &bShape, void *y, const Shape &outShape) {
  StatusOr<BroadcastShape> shape =
      broadcastShape(outShape, aShape, bShape, cShape);
  if (!shape)
    return shape.status();
  cuda::where(storage_, c, a, b, y, *shape, numElements(outShape), stream());
  return launched("where");
}

Status CudaBackend::fill(void *y, int64_t n, float value) {
  cuda::fill(storage_, y, n, value, stream());
  return launched("fill");
}

Status CudaBackend::castToFloat(const int64_t *x, int64_t n, void *y) {
  cuda::castToFloat(storage_, x, n, y, stream());
  return launched("cast");
}

Status CudaBackend::trilu(const void *x, int64_t batch, int64_t rows,
                          int64_t cols, int64_t k, bool upper, void *y) {
  cuda::trilu(storage_, x, batch, rows, cols, k, upper, y, stream());
  return launched("trilu");
}

Status CudaBackend::reduce(ReduceKind kind, const void *x, int64_t outer,
                           int64_t axis, int64_t inner, void *y) {
  cuda::reduce(storage_, kind, x, outer, axis, inner, y, stream());
  return launched("reduce");
}

Status CudaBackend::layerNorm(const void *x, const void *scale,
                              const void *bias, int64_t rows, int64_t dim,
                              double eps, void *y) {
  cuda::layerNorm(storage_, x, scale, bias, rows, dim, static_cast<float>(eps),
                  y, stream());
  return launched("layer_norm");
}

Status CudaBackend::gelu(const void *x, int64_t n, bool tanhForm, void *y) {
  cuda::gelu(storage_, x, n, tanhForm, y, stream());
  return launched("gelu");
}

Status CudaBackend::rotary(const void *x, const int64_t *positions,
                           int64_t rows, int64_t heads, int64_t headDim,
                           const float *invFreq, int64_t pairs,
                           bool interleaved, void *y) {
  if (!cuda::rotary(storage_, x, positions, rows, heads, headDim, invFreq,
                    pairs, interleaved, y, stream()))
    return Status::error("rotary with ", pairs,
                         " frequencies is not supported by the CUDA kernel "
                         "(at most ",
                         cuda::kMaxRotaryPairs, ")");
  return launched("rotary");
}

Status CudaBackend::unary(UnaryKind fn, const void *x, int64_t n, void *y) {
  cuda::unary(storage_, fn, x, n, y, stream());
  return launched("unary");
}

Status CudaBackend::softmax(const void *x, int64_t outer, int64_t axis,
                            int64_t inner, void *y) {
  cuda::softmax(storage_, x, outer, axis, inner, y, stream());
  return launched("softmax");
}

Status CudaBackend::attention(const void *q, const void *k, const void *v,
                              const AttentionShape &shape, void *y) {
  if (!cuda::attention(storage_, q, k, v, shape, y, stream()))
    return Status::error("attention with head dim ", shape.headDim, " and ",
                         shape.batch, " x ", shape.heads,
                         " batch x heads is not supported by the CUDA "
                         "kernel (head dim <= ",
                         kMaxHeadDim, ", batch x heads <= 65535)");
  return launched("attention");
}

Status CudaBackend::transpose(const void *x, const Shape &shape,
                              const std::vector<int64_t> &perm, void *y) {
  if (shape.size() > static_cast<size_t>(kMaxDims))
    return Status::error("transpose of ", shape.size(), " dims (at most ",
                         kMaxDims, ")");
  cuda::transpose(storage_, x, static_cast<int>(shape.size()), shape.data(),
                  perm.data(), y, stream());
  return launched("transpose");
}

Status CudaBackend::mark(size_t slot) {
  while (marks.size() <= slot) {
    EventHandle e;
    ROSE_CUDA(cudaEventCreate(e.out()));
    marks.push_back(std::move(e));
  }
  ROSE_CUDA(cudaEventRecord(marks[slot].get(), stream()));
  return Status::success();
}

StatusOr<std::vector<double>> CudaBackend::markTimes(size_t count) {
  if (count > marks.size())
    return Status::error("timing marks: ", count, " asked, ", marks.size(),
                         " recorded");
  std::vector<double> times;
  for (size_t i = 0; i < count; ++i) {
    float ms = 0;
    ROSE_CUDA(cudaEventElapsedTime(&ms, marks[0].get(), marks[i].get()));
    times.push_back(ms * 1e3);
  }
  return times;
}

Status CudaBackend::beginCall() {
  ROSE_CUDA(cudaMemsetAsync(errorFlag.get(), 0, 2 * sizeof(int64_t), stream()));
  return Status::success();
}

StatusOr<GraphHandle>
CudaBackend::capture(const std::function<Status()> &work) {
  GraphHandle graph;
  ROSE_CUDA(cudaStreamBeginCapture(stream(), cudaStreamCaptureModeThreadLocal));
  Status status = work();
  cudaError_t end = cudaStreamEndCapture(stream(), graph.out());
  ROSE_RETURN_IF_ERROR(status);
  ROSE_CUDA(end);
  return graph;
}

Status CudaBackend::launchCaptured(const std::function<Status()> &work) {
  auto graph = capture(work);
  if (!graph)
    return graph.status();
  if (captured_) {
    cudaGraphExecUpdateResultInfo info;
    if (cudaGraphExecUpdate(captured_.get(), graph->get(), &info) !=
        cudaSuccess) {
      // Another topology (a new shape): instantiate anew.
      (void)cudaGetLastError();
      captured_.reset();
    }
  }
  if (!captured_)
    ROSE_CUDA(cudaGraphInstantiate(captured_.out(), graph->get(), 0));
  ROSE_CUDA(cudaGraphLaunch(captured_.get(), stream()));
  return Status::success();
}

Status CudaBackend::finish() {
  int64_t flag[2] = {0, 0};
  ROSE_CUDA(cudaMemcpyAsync(flag, errorFlag.get(), sizeof(flag),
                            cudaMemcpyDeviceToHost, stream()));
  ROSE_CUDA(cudaStreamSynchronize(stream()));
  if (flag[0])
    return Status::error("embedding index ", flag[1],
                         " is out of range (sequence longer than the "
                         "model's positions?)");
  return Status::success();
}
