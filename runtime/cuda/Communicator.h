//===- Communicator.h - collectives between ranks on GPUs -------*- C++ -*-===//
//
// Two implementations of rose's Communicator (runtime/Communicator.h) on
// device buffers of the run's storage type, each ordered on the stream it
// is made for, chosen per run (rose-run --comm): NCCL when every rank has a GPU
// of its own (threads of one process or one process per rank), and an
// in-process communicator for ranks that share one GPU, which NCCL refuses
// ("Duplicate GPU detected") but which makes tensor parallelism testable on a
// one-GPU machine.
//
//===----------------------------------------------------------------------===//
#ifndef ROSE_RUNTIME_CUDA_COMMUNICATOR_H
#define ROSE_RUNTIME_CUDA_COMMUNICATOR_H

#include "runtime/Communicator.h"
#include "runtime/cuda/Kernels.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

namespace rose::cuda {

/// Ranks that are threads of this process on one GPU. Every collective
/// synchronizes the ranks' streams and meets at a host barrier (with the
/// LocalGroup timeout), then one kernel per rank reduces its share; sums run
/// in rank order, so results are deterministic.
class SharedGpuGroup {
public:
  SharedGpuGroup(int size, Storage storage, std::chrono::seconds timeout);
  std::unique_ptr<Communicator> communicator(int rank, cudaStream_t stream);

  LocalGroup group;
  Storage storage;
  std::vector<const void *> inputs;
  std::vector<void *> outputs;
};

/// The NCCL unique id, as bytes (for the TCP rendezvous).
StatusOr<std::string> newNcclId();

/// Joins rank `rank` of a `size`-rank NCCL communicator on the current
/// device. Initialization is non-blocking and polled, so a peer that never
/// joins is a timeout error, not a hang. When `cancel` becomes true (a rank
/// thread of this process failed), pending waits abort instead of running
/// into the timeout.
StatusOr<std::unique_ptr<Communicator>>
ncclCommunicator(const std::string &id, int rank, int size, Storage storage,
                 cudaStream_t stream, std::chrono::seconds timeout,
                 const std::atomic<bool> *cancel = nullptr);

} // namespace rose::cuda

#endif // ROSE_RUNTIME_CUDA_COMMUNICATOR_H
