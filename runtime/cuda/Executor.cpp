//===- Executor.cpp - runs one rank of a program on a GPU -----------------===//
#include "runtime/cuda/Executor.h"
#include "runtime/CheckedMath.h"
#include "runtime/Shape.h"
#include "runtime/cuda/Check.h"

#include <chrono>
#include <cstring>
#include <limits>

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

CudaExecutor::CudaExecutor(const Entry &entry, DeviceCommunicator &comm,
                           Precision precision)
    : entry(entry), fn(*entry.fn), paramShapes_(paramShapes(*entry.program)),
      comm(comm), precision(precision), storage(storageOf(precision)) {}

CudaExecutor::~CudaExecutor() {
  if (graph)
    cudaGraphExecDestroy(graph);
  if (blas)
    cublasDestroy(blas);
  cudaFree(blasWorkspace);
  cudaFree(weightArena);
  cudaFree(arena);
  cudaFree(scratch);
  cudaFree(errorFlag);
  cudaFreeHost(tokensHost);
  if (stream)
    cudaStreamDestroy(stream);
}

StatusOr<std::unique_ptr<CudaExecutor>>
CudaExecutor::create(const Entry &entry, const RankWeights &weights,
                     DeviceCommunicator &comm, Precision precision) {
  std::unique_ptr<CudaExecutor> e(new CudaExecutor(entry, comm, precision));
  ROSE_CUDA(cudaStreamCreateWithFlags(&e->stream, cudaStreamNonBlocking));
  ROSE_CUDA(cublasCreate(&e->blas));
  ROSE_CUDA(cublasSetStream(e->blas, e->stream));
  // A fixed workspace: cuBLAS must not allocate while a graph is captured.
  constexpr size_t kWorkspace = 32 << 20;
  ROSE_CUDA(cudaMalloc(&e->blasWorkspace, kWorkspace));
  ROSE_CUDA(cublasSetWorkspace(e->blas, e->blasWorkspace, kWorkspace));
  ROSE_CUDA(cudaMalloc(&e->errorFlag, 2 * sizeof(int64_t)));

  // One allocation for every param, each 256-byte aligned.
  size_t es = storageBytes(e->storage), total = 0, largest = 0;
  std::vector<size_t> offsets, counts;
  std::vector<bool> used = entry.usedParams();
  for (size_t i = 0; i < used.size(); ++i) {
    size_t n = used[i] ? numElements(e->paramShapes_[i]) : 0;
    offsets.push_back(total);
    counts.push_back(n);
    total += roundUp(n * es, 256);
    largest = std::max(largest, n);
  }
  e->weightBytes_ = total;
  if (total) {
    if (cudaMalloc(&e->weightArena, total) != cudaSuccess)
      return Status::error("out of GPU memory: the weights need ", total,
                           " bytes in ", precisionName(precision));
  }
  // Upload as float through one staging buffer, converting on the device.
  void *staging = nullptr;
  if (largest && e->storage != Storage::F32)
    ROSE_CUDA(cudaMalloc(&staging, largest * sizeof(float)));
  Status status;
  for (size_t i = 0; status.ok() && i < offsets.size(); ++i) {
    size_t n = counts[i];
    char *dst = static_cast<char *>(e->weightArena) + offsets[i];
    e->params.push_back(used[i] ? dst : nullptr);
    if (!used[i])
      continue;
    // Copies go on the executor's stream: a pageable cudaMemcpy on the
    // legacy stream is not ordered before kernels on a non-blocking stream
    // (its last chunk may still be in flight when it returns).
    if (e->storage == Storage::F32) {
      status = check(cudaMemcpyAsync(dst, weights.param(i), n * sizeof(float),
                                     cudaMemcpyHostToDevice, e->stream),
                     "uploading weights");
      if (status.ok())
        status = check(cudaStreamSynchronize(e->stream), "uploading weights");
    } else {
      status =
          check(cudaMemcpyAsync(staging, weights.param(i), n * sizeof(float),
                                cudaMemcpyHostToDevice, e->stream),
                "uploading weights");
      if (status.ok()) {
        convert(Storage::F32, staging, e->storage, dst, n, e->stream);
        status = check(cudaStreamSynchronize(e->stream), "converting weights");
      }
    }
  }
  cudaFree(staging);
  if (!status.ok())
    return status;
  return e;
}

void *CudaExecutor::data(int32_t value) const {
  return static_cast<char *>(arena) + layout.offsets[value];
}

const void *CudaExecutor::operand(const fb::Operand *o) const {
  if (o->param() >= 0)
    return params[o->param()];
  return data(o->value());
}

const Shape &CudaExecutor::operandShape(const fb::Operand *o) const {
  return rose::operandShape(layout.shapes, paramShapes_, o);
}

Status CudaExecutor::prepare(int64_t b, int64_t s) {
  if (b == batch && s == seq && arena)
    return Status::success();
  if (graph) {
    cudaGraphExecDestroy(graph);
    graph = nullptr;
  }
  // A failed prepare() resets batch and seq, so the next call retries
  // instead of taking a half-sized arena as ready.
  struct ResetOnFailure {
    CudaExecutor *e;
    bool done = false;
    ~ResetOnFailure() {
      if (!done)
        e->batch = e->seq = 0;
    }
  } guard{this};
  auto laid = layoutCall(entry, b, s);
  if (!laid)
    return laid.status();
  layout = laid.take();
  batch = b;
  seq = s;
  // The plan's byte offsets are for float32 values; narrower storage fits
  // in the same slots.
  size_t need = static_cast<size_t>(layout.arenaBytes) + 256;
  if (need > arenaBytes) {
    cudaFree(arena);
    arena = nullptr;
    if (cudaMalloc(&arena, need) != cudaSuccess)
      return Status::error("out of GPU memory: the memory plan needs ", need,
                           " bytes for ", b, "x", s, " tokens");
    arenaBytes = need;
  }
  size_t scratchNeed = 0;
  for (const fb::Op *op : *fn.ops())
    if (op->attrs_type() == fb::OpAttrs::AllGather ||
        op->attrs_type() == fb::OpAttrs::ReduceScatter) {
      int32_t v = op->attrs_type() == fb::OpAttrs::AllGather
                      ? op->results()->Get(0)
                      : op->operands()->Get(0)->value();
      scratchNeed = std::max<size_t>(scratchNeed, numElements(shapeOf(v)) *
                                                      storageBytes(storage));
    }
  if (scratchNeed > scratchBytes) {
    cudaFree(scratch);
    scratch = nullptr;
    if (cudaMalloc(&scratch, scratchNeed) != cudaSuccess)
      return Status::error("out of GPU memory: collectives need ", scratchNeed,
                           " bytes of staging");
    scratchBytes = scratchNeed;
  }
  if (static_cast<size_t>(b * s) > tokensCapacity) {
    cudaFreeHost(tokensHost);
    tokensHost = nullptr;
    ROSE_CUDA(cudaMallocHost(&tokensHost, b * s * sizeof(int64_t)));
    tokensCapacity = b * s;
  }
  guard.done = true;
  return Status::success();
}

/// Rows [xStart, xStart + len) of x's axis (xRows long) to rows [yStart,
/// yStart + len) of y's (yRows long), x and y agreeing on every other dim:
/// one strided 2-D copy of `outer` blocks.
static Status copyAxisRows(const void *x, int64_t xRows, int64_t xStart,
                           void *y, int64_t yRows, int64_t yStart, int64_t len,
                           AxisSplit split, size_t es, cudaStream_t stream) {
  size_t row = split.inner * es, width = len * row;
  if (width == 0 || split.outer == 0)
    return Status::success();
  ROSE_CUDA(cudaMemcpy2DAsync(
      static_cast<char *>(y) + yStart * row, yRows * row,
      static_cast<const char *>(x) + xStart * row, xRows * row, width,
      split.outer, cudaMemcpyDeviceToDevice, stream));
  return Status::success();
}

/// Copies [start, end) of `axis` of x (shape) into y.
static Status sliceAxis(const void *x, const std::vector<int64_t> &shape,
                        int64_t axis, int64_t start, int64_t end, void *y,
                        size_t es, cudaStream_t stream) {
  return copyAxisRows(x, shape[axis], start, y, end - start, 0, end - start,
                      splitAtAxis(shape, axis), es, stream);
}

Status CudaExecutor::runOp(const fb::Op &op) {
  auto operands = op.operands();
  int32_t result = op.results()->Get(0);
  void *y = data(result);
  const Shape &outShape = shapeOf(result);
  auto in = [&](size_t i) { return operand(operands->Get(i)); };
  auto inShape = [&](size_t i) -> const Shape & {
    return operandShape(operands->Get(i));
  };
  const std::string layer = op.layer() ? op.layer()->str() : "";
  const size_t es = storageBytes(storage);
  int tp = comm.size(), rank = comm.rank();

  switch (op.attrs_type()) {
  case fb::OpAttrs::Embedding: {
    const Shape &table = inShape(0);
    int64_t shards = op.attrs_as_Embedding()->vocab_shards();
    embedding(storage, in(0), table[0], table[1],
              static_cast<const int64_t *>(data(operands->Get(1)->value())),
              numElements(inShape(1)), shards ? rank * table[0] : 0,
              shards != 0, y, errorFlag, stream);
    return Status::success();
  }
  case fb::OpAttrs::Positions:
    positions(static_cast<int64_t *>(y), outShape[0], outShape[1],
              op.attrs_as_Positions()->offset(), stream);
    return Status::success();
  case fb::OpAttrs::MatMul: {
    const Shape &w = inShape(1);
    bool transposed = op.attrs_as_MatMul()->transpose_rhs();
    int64_t k = transposed ? w[1] : w[0], n = transposed ? w[0] : w[1];
    int64_t m = numElements(inShape(0)) / k;
    // Row-major y = x w is column-major y^T = w^T x^T.
    cudaDataType_t type = storage == Storage::BF16  ? CUDA_R_16BF
                          : storage == Storage::F16 ? CUDA_R_16F
                                                    : CUDA_R_32F;
    cublasComputeType_t compute = precision == Precision::TF32
                                      ? CUBLAS_COMPUTE_32F_FAST_TF32
                                      : CUBLAS_COMPUTE_32F;
    float one = 1.0f, zero = 0.0f;
    ROSE_CUDA(cublasGemmEx(blas, transposed ? CUBLAS_OP_T : CUBLAS_OP_N,
                           CUBLAS_OP_N, n, m, k, &one, in(1), type,
                           transposed ? k : n, in(0), type, k, &zero, y, type,
                           n, compute, CUBLAS_GEMM_DEFAULT));
    if (operands->size() > 2)
      biasAdd(storage, y, in(2), m, n, stream);
    return Status::success();
  }
  case fb::OpAttrs::Add:
  case fb::OpAttrs::Sub:
  case fb::OpAttrs::Mul:
  case fb::OpAttrs::Div: {
    fb::OpAttrs k = op.attrs_type();
    Binary kind = k == fb::OpAttrs::Add   ? Binary::Add
                  : k == fb::OpAttrs::Sub ? Binary::Sub
                  : k == fb::OpAttrs::Mul ? Binary::Mul
                                          : Binary::Div;
    size_t dims = outShape.size();
    if (dims > static_cast<size_t>(kMaxDims))
      return Status::error("'", layer, "': ", dims, " dims (at most ", kMaxDims,
                           ")");
    std::vector<int64_t> aStrides = broadcastStrides(inShape(0), dims),
                         bStrides = broadcastStrides(inShape(1), dims);
    BroadcastShape shape;
    shape.rank = static_cast<int>(dims);
    for (size_t d = 0; d < dims; ++d) {
      shape.shape[d] = outShape[d];
      shape.aStride[d] = aStrides[d];
      shape.bStride[d] = bStrides[d];
    }
    binary(storage, kind, in(0), in(1), y, shape, numElements(outShape),
           stream);
    return Status::success();
  }
  case fb::OpAttrs::LayerNorm: {
    int64_t dim = outShape.back();
    if (dim == 0)
      return Status::success();
    layerNorm(storage, in(0), in(1), in(2), numElements(outShape) / dim, dim,
              static_cast<float>(op.attrs_as_LayerNorm()->epsilon()), y,
              stream);
    return Status::success();
  }
  case fb::OpAttrs::Gelu:
    gelu(storage, in(0), numElements(outShape), op.attrs_as_Gelu()->tanh(), y,
         stream);
    return Status::success();
  case fb::OpAttrs::Softmax: {
    int64_t axis = op.attrs_as_Softmax()->axis();
    AxisSplit split = splitAtAxis(outShape, axis);
    softmax(storage, in(0), split.outer, outShape[axis], split.inner, y,
            stream);
    return Status::success();
  }
  case fb::OpAttrs::Attention: {
    auto *a = op.attrs_as_Attention();
    int64_t heads = a->heads(), headDim = outShape.back() / heads;
    int64_t rows = outShape[0];
    if (!attention(storage, in(0), in(1), in(2), rows, outShape[1], heads,
                   headDim, a->causal(), static_cast<float>(a->scale()), y,
                   stream))
      return Status::error("'", layer, "': attention with head dim ", headDim,
                           " and ", rows, " x ", heads,
                           " batch x heads is not supported by the CUDA "
                           "kernel (head dim <= ",
                           kMaxHeadDim, ", batch x heads <= 65535)");
    return Status::success();
  }
  case fb::OpAttrs::Reshape:
    if (y != in(0))
      ROSE_CUDA(cudaMemcpyAsync(y, in(0), numElements(outShape) * es,
                                cudaMemcpyDeviceToDevice, stream));
    return Status::success();
  case fb::OpAttrs::Transpose: {
    const Shape &shape = inShape(0);
    auto *p = op.attrs_as_Transpose()->perm();
    std::vector<int64_t> perm(p->begin(), p->end());
    if (shape.size() > static_cast<size_t>(kMaxDims))
      return Status::error("'", layer, "': transpose of ", shape.size(),
                           " dims (at most ", kMaxDims, ")");
    transpose(storage, in(0), static_cast<int>(shape.size()), shape.data(),
              perm.data(), y, stream);
    return Status::success();
  }
  case fb::OpAttrs::Split: {
    auto *a = op.attrs_as_Split();
    const Shape &shape = inShape(0);
    int64_t axis = a->axis(), offset = 0;
    for (size_t i = 0; i < op.results()->size(); ++i) {
      int64_t size = a->sizes()->Get(i);
      ROSE_RETURN_IF_ERROR(sliceAxis(in(0), shape, axis, offset, offset + size,
                                     data(op.results()->Get(i)), es, stream));
      offset += size;
    }
    return Status::success();
  }
  case fb::OpAttrs::Concat: {
    int64_t axis = op.attrs_as_Concat()->axis(), offset = 0;
    for (size_t i = 0; i < operands->size(); ++i) {
      const Shape &shape = inShape(i);
      ROSE_RETURN_IF_ERROR(copyAxisRows(in(i), shape[axis], 0, y,
                                        outShape[axis], offset, shape[axis],
                                        splitAtAxis(shape, axis), es, stream));
      offset += shape[axis];
    }
    return Status::success();
  }
  case fb::OpAttrs::Slice: {
    auto *a = op.attrs_as_Slice();
    return sliceAxis(in(0), inShape(0), a->axis(), a->start(), a->end(), y, es,
                     stream);
  }
  case fb::OpAttrs::AllReduce: {
    size_t n = numElements(outShape);
    if (y != in(0))
      ROSE_CUDA(
          cudaMemcpyAsync(y, in(0), n * es, cudaMemcpyDeviceToDevice, stream));
    return comm.allReduceSum(y, n, stream)
        .withContext("'" + layer + "' all_reduce");
  }
  case fb::OpAttrs::AllGather: {
    // Gather contiguous chunks, then interleave them along `dim`: rank r's
    // chunk row o lands at row o, slot r.
    const Shape &local = inShape(0);
    int64_t dim = op.attrs_as_AllGather()->dim(), outer = 1;
    for (int64_t d = 0; d < dim; ++d)
      outer *= local[d];
    int64_t chunk = numElements(local), inner = chunk / outer;
    ROSE_RETURN_IF_ERROR(comm.allGather(in(0), chunk, scratch, stream)
                             .withContext("'" + layer + "' all_gather"));
    for (int r = 0; r < tp; ++r)
      ROSE_CUDA(cudaMemcpy2DAsync(
          static_cast<char *>(y) + r * inner * es, tp * inner * es,
          static_cast<char *>(scratch) + r * chunk * es, inner * es, inner * es,
          outer, cudaMemcpyDeviceToDevice, stream));
    return Status::success();
  }
  case fb::OpAttrs::ReduceScatter: {
    const Shape &full = inShape(0);
    int64_t dim = op.attrs_as_ReduceScatter()->dim(), outer = 1;
    for (int64_t d = 0; d < dim; ++d)
      outer *= full[d];
    int64_t inner = numElements(full) / outer / tp, chunk = outer * inner;
    for (int r = 0; r < tp; ++r)
      ROSE_CUDA(cudaMemcpy2DAsync(
          static_cast<char *>(scratch) + r * chunk * es, inner * es,
          static_cast<const char *>(in(0)) + r * inner * es, tp * inner * es,
          inner * es, outer, cudaMemcpyDeviceToDevice, stream));
    return comm.reduceScatterSum(scratch, chunk, y, stream)
        .withContext("'" + layer + "' reduce_scatter");
  }
  case fb::OpAttrs::ShardSlice: {
    const Shape &full = inShape(0);
    int64_t dim = op.attrs_as_ShardSlice()->dim();
    if (full[dim] % tp != 0)
      return Status::error("'", layer, "': dim ", dim, " of size ", full[dim],
                           " is not divisible by tp=", tp);
    int64_t part = full[dim] / tp;
    return sliceAxis(in(0), full, dim, rank * part, (rank + 1) * part, y, es,
                     stream);
  }
  default:
    break;
  }
  return Status::error("unknown op kind");
}

Status
CudaExecutor::enqueue(std::vector<cudaEvent_t> *events,
                      std::vector<std::pair<int32_t, void *>> *checkpoints) {
  ROSE_CUDA(cudaMemsetAsync(errorFlag, 0, 2 * sizeof(int64_t), stream));
  ROSE_CUDA(cudaMemcpyAsync(data(entry.input()), tokensHost,
                            batch * seq * sizeof(int64_t),
                            cudaMemcpyHostToDevice, stream));
  size_t index = 0;
  for (const fb::Op *op : *fn.ops()) {
    if (events)
      ROSE_CUDA(cudaEventRecord((*events)[2 * index], stream));
    ROSE_RETURN_IF_ERROR(runOp(*op));
    // A bad launch configuration shows up here, next to the op that made it.
    if (cudaError_t e = cudaGetLastError(); e != cudaSuccess)
      return check(e, opName(*op))
          .withContext(op->layer() ? "'" + op->layer()->str() + "'" : "op");
    if (events)
      ROSE_CUDA(cudaEventRecord((*events)[2 * index + 1], stream));
    if (checkpoints)
      for (auto &[value, buffer] : *checkpoints)
        for (int32_t r : *op->results())
          if (r == value)
            convert(storage, data(value), Storage::F32, buffer,
                    numElements(shapeOf(value)), stream);
    ++index;
  }
  return Status::success();
}

Status CudaExecutor::finish() {
  ROSE_RETURN_IF_ERROR(comm.synchronize(stream));
  int64_t flag[2] = {0, 0};
  ROSE_CUDA(cudaMemcpy(flag, errorFlag, sizeof(flag), cudaMemcpyDeviceToHost));
  if (flag[0])
    return Status::error("embedding index ", flag[1],
                         " is out of range (sequence longer than the "
                         "model's positions?)");
  return Status::success();
}

Status CudaExecutor::run(const int64_t *tokens, int64_t b, int64_t s,
                         std::vector<OpEvent> *trace,
                         std::vector<Checkpoint> *checkpoints) {
  ROSE_RETURN_IF_ERROR(prepare(b, s));
  std::memcpy(tokensHost, tokens, b * s * sizeof(int64_t));

  std::vector<cudaEvent_t> events;
  if (trace) {
    events.resize(2 * fn.ops()->size());
    for (cudaEvent_t &e : events)
      ROSE_CUDA(cudaEventCreate(&e));
  }
  std::vector<std::pair<int32_t, void *>> checkpointBuffers;
  if (checkpoints && fn.checkpoints())
    for (int32_t c : *fn.checkpoints()) {
      void *buffer = nullptr;
      ROSE_CUDA(cudaMalloc(&buffer, numElements(shapeOf(c)) * sizeof(float)));
      checkpointBuffers.emplace_back(c, buffer);
    }
  Status status = enqueue(trace ? &events : nullptr,
                          checkpoints ? &checkpointBuffers : nullptr);
  if (status.ok())
    status = finish();
  for (auto &[value, buffer] : checkpointBuffers) {
    if (status.ok()) {
      std::vector<float> host(numElements(shapeOf(value)));
      status =
          check(cudaMemcpy(host.data(), buffer, host.size() * sizeof(float),
                           cudaMemcpyDeviceToHost),
                "reading a checkpoint");
      checkpoints->push_back({fn.values()->Get(value)->name()->str(),
                              shapeOf(value), std::move(host)});
    }
    cudaFree(buffer);
  }
  if (trace && status.ok()) {
    size_t i = 0;
    for (const fb::Op *op : *fn.ops()) {
      float start = 0, end = 0;
      cudaEventElapsedTime(&start, events[0], events[2 * i]);
      cudaEventElapsedTime(&end, events[0], events[2 * i + 1]);
      trace->push_back({opName(*op), op->layer() ? op->layer()->str() : "",
                        op->attrs_type() >= fb::OpAttrs::AllReduce, start * 1e3,
                        (end - start) * 1e3});
      ++i;
    }
  }
  for (cudaEvent_t e : events)
    cudaEventDestroy(e);
  return status;
}

StatusOr<double> CudaExecutor::timeRepeats(int repeats, bool useGraph) {
  if (!arena)
    return Status::error("timeRepeats before run");
  useGraph = useGraph && comm.capturable();
  if (useGraph && !graph) {
    cudaGraph_t captured = nullptr;
    ROSE_CUDA(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
    Status status = enqueue(nullptr, nullptr);
    cudaError_t end = cudaStreamEndCapture(stream, &captured);
    ROSE_RETURN_IF_ERROR(status);
    ROSE_CUDA(end);
    cudaError_t inst = cudaGraphInstantiate(&graph, captured, 0);
    cudaGraphDestroy(captured);
    ROSE_CUDA(inst);
    // One untimed replay: the first launch uploads the graph.
    ROSE_CUDA(cudaGraphLaunch(graph, stream));
    ROSE_RETURN_IF_ERROR(finish());
  }
  cudaEvent_t start, stop;
  ROSE_CUDA(cudaEventCreate(&start));
  ROSE_CUDA(cudaEventCreate(&stop));
  Status status = check(cudaEventRecord(start, stream), "cudaEventRecord");
  for (int i = 0; status.ok() && i < repeats; ++i)
    status = useGraph ? check(cudaGraphLaunch(graph, stream), "cudaGraphLaunch")
                      : enqueue(nullptr, nullptr);
  if (status.ok())
    status = check(cudaEventRecord(stop, stream), "cudaEventRecord");
  if (status.ok())
    status = finish();
  float ms = 0;
  if (status.ok())
    status = check(cudaEventElapsedTime(&ms, start, stop), "timing");
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  if (!status.ok())
    return status;
  return static_cast<double>(ms) / std::max(1, repeats);
}

StatusOr<std::vector<float>> CudaExecutor::output() const {
  size_t n = numElements(shapeOf(entry.output()));
  std::vector<float> host(n);
  void *buffer = nullptr;
  ROSE_CUDA(cudaMalloc(&buffer, n * sizeof(float)));
  convert(storage, data(entry.output()), Storage::F32, buffer, n, stream);
  Status status = check(cudaStreamSynchronize(stream), "converting logits");
  if (status.ok())
    status = check(cudaMemcpy(host.data(), buffer, n * sizeof(float),
                              cudaMemcpyDeviceToHost),
                   "reading logits");
  cudaFree(buffer);
  if (!status.ok())
    return status;
  return host;
}
