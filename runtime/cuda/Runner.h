//===- Runner.h - runs a program's ranks on GPUs ----------------*- C++ -*-===//
#ifndef ROSE_RUNTIME_CUDA_RUNNER_H
#define ROSE_RUNTIME_CUDA_RUNNER_H

#include "runtime/Generate.h"
#include "runtime/Rendezvous.h"
#include "runtime/Runner.h"
#include "runtime/cuda/Communicator.h"
#include "runtime/cuda/CudaBackend.h"

#include <optional>

namespace rose::cuda {

/// How ranks exchange data: NCCL needs a GPU per rank; "shared" runs every
/// rank on one GPU through the in-process communicator; "auto" takes NCCL
/// when there are enough GPUs (and always across processes).
enum class CommKind { Auto, Nccl, Shared };

struct CudaRunOptions {
  Precision precision = Precision::FP32;
  CommKind comm = CommKind::Auto;
  /// Set when this process is one rank of a multi-process launch (mpirun,
  /// RANK/WORLD_SIZE): it runs that rank alone, over NCCL.
  std::optional<ProcessGroupEnv> process;
  /// After the checked run, time this many more (CUDA graph replays when
  /// the communicator allows capture).
  int repeats = 0;
  bool graphs = true;
};

struct CudaRunInfo {
  std::string device;       // "NVIDIA H100 80GB HBM3"
  std::string communicator; // "nccl", "shared-gpu", "none"
  bool graph = false;       // repeats were graph replays
  double msPerRepeat = 0;   // mean over repeats (rank 0)
};

/// Runs `request.function` with one thread per local rank (or, with
/// options.process, this process's rank). The result holds rank 0's logits
/// (every rank's logits in process mode, which is what each prints).
StatusOr<RunResult> runOnCuda(const Program &program, const RunRequest &request,
                              const CudaRunOptions &options,
                              CudaRunInfo *info = nullptr);

/// Generates on GPU ranks (threads of this process; a GPU per rank over
/// NCCL, or all on one GPU): the same loop as the CPU's (Generate.h), each
/// step's logits read back for rank 0 to sample. The decode step runs as
/// plain launches: a CUDA graph would bake in the cache length.
StatusOr<GenerateResult> generateOnCuda(const Program &program,
                                        const GenerateRequest &request,
                                        const CudaRunOptions &options,
                                        CudaRunInfo *info = nullptr);

} // namespace rose::cuda

#endif // ROSE_RUNTIME_CUDA_RUNNER_H
