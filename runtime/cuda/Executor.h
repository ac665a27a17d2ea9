//===- Executor.h - runs one rank of a program on a GPU ---------*- C++ -*-===//
//
// The CUDA counterpart of runtime/Executor.h: the same program, the same
// call layout (one device arena planned per binding of the symbols), the
// rank's weights uploaded once in the run's storage type. GEMMs go to cuBLAS,
// everything else to Kernels.cu, collectives to a DeviceCommunicator. A run
// is a sequence of asynchronous launches on one stream, so it can be
// captured into a CUDA graph and replayed.
//
//===----------------------------------------------------------------------===//
#ifndef ROSE_RUNTIME_CUDA_EXECUTOR_H
#define ROSE_RUNTIME_CUDA_EXECUTOR_H

#include "runtime/Executor.h"
#include "runtime/Weights.h"
#include "runtime/cuda/Communicator.h"

#include <cublas_v2.h>

namespace rose::cuda {

/// The numeric mode of a CUDA run: storage type and GEMM math.
enum class Precision { FP32, TF32, BF16, FP16 };
const char *precisionName(Precision p);
inline Storage storageOf(Precision p) {
  return p == Precision::BF16   ? Storage::BF16
         : p == Precision::FP16 ? Storage::F16
                                : Storage::F32;
}

class CudaExecutor {
public:
  /// Uploads `weights` to the current device (converted to the storage
  /// type) and sets up cuBLAS on a stream of its own.
  static StatusOr<std::unique_ptr<CudaExecutor>>
  create(const Entry &entry, const RankWeights &weights,
         DeviceCommunicator &comm, Precision precision);
  ~CudaExecutor();

  /// One forward pass: uploads tokens, enqueues every op, waits. With
  /// `trace`, times each op with CUDA events; with `checkpoints`, keeps the
  /// checkpoint values as float.
  Status run(const int64_t *tokens, int64_t batch, int64_t seq,
             std::vector<OpEvent> *trace = nullptr,
             std::vector<Checkpoint> *checkpoints = nullptr);

  /// Times `repeats` more runs on the same tokens (the last run()'s), as
  /// one CUDA graph replayed when the communicator allows capture, else as
  /// plain launches. Returns milliseconds per run.
  StatusOr<double> timeRepeats(int repeats, bool useGraph);

  /// The last run's output (logits), as float.
  StatusOr<std::vector<float>> output() const;
  const Shape &shapeOf(int32_t value) const { return layout.shapes[value]; }
  size_t weightBytes() const { return weightBytes_; }

private:
  CudaExecutor(const Entry &entry, DeviceCommunicator &comm,
               Precision precision);
  Status prepare(int64_t batch, int64_t seq);
  Status enqueue(std::vector<cudaEvent_t> *events,
                 std::vector<std::pair<int32_t, void *>> *checkpoints);
  Status runOp(const fb::Op &op);
  Status finish();
  void *data(int32_t value) const;
  const void *operand(const fb::Operand *o) const;
  const Shape &operandShape(const fb::Operand *o) const;

  Entry entry;
  const fb::Function &fn;
  std::vector<Shape> paramShapes_;
  CallLayout layout;
  DeviceCommunicator &comm;
  Precision precision;
  Storage storage;
  cudaStream_t stream = nullptr;
  cublasHandle_t blas = nullptr;
  void *blasWorkspace = nullptr;
  void *weightArena = nullptr;
  size_t weightBytes_ = 0;
  std::vector<const void *> params; // null for params the entry never reads
  int64_t batch = 0, seq = 0;
  void *arena = nullptr;
  size_t arenaBytes = 0;
  void *scratch = nullptr; // all_gather / reduce_scatter staging
  size_t scratchBytes = 0;
  int64_t *tokensHost = nullptr; // pinned, so graph replays can read it
  size_t tokensCapacity = 0;
  int64_t *errorFlag = nullptr; // [flag, offending id] from embedding
  cudaGraphExec_t graph = nullptr;
};

} // namespace rose::cuda

#endif // ROSE_RUNTIME_CUDA_EXECUTOR_H
