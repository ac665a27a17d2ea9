//===- Communicator.h - collectives between ranks on GPUs -------*- C++ -*-===//
//
// Two implementations behind one interface, chosen per run (rose-run
// --comm): NCCL when every rank has a GPU of its own (threads of one process
// or one process per rank), and an in-process communicator for ranks that
// share one GPU, which NCCL refuses ("Duplicate GPU detected") but which makes
// tensor parallelism testable on a one-GPU machine.
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

/// Collectives on device buffers of the run's storage type, ordered on the
/// caller's stream.
class DeviceCommunicator {
public:
  virtual ~DeviceCommunicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual const char *name() const = 0;
  /// data[0..n) <- sum over ranks.
  virtual Status allReduceSum(void *data, size_t n, cudaStream_t stream) = 0;
  /// out[r * n .. (r + 1) * n) <- rank r's in[0..n).
  virtual Status allGather(const void *in, size_t n, void *out,
                           cudaStream_t stream) = 0;
  /// out[0..n) <- sum over ranks of in[rank * n .. (rank + 1) * n).
  virtual Status reduceScatterSum(const void *in, size_t n, void *out,
                                  cudaStream_t stream) = 0;
  /// True when collectives only enqueue work (never block the host), so a
  /// whole run can be captured into a CUDA graph.
  virtual bool capturable() const = 0;
  /// Waits until `stream` has drained. Fails, instead of hanging, when a
  /// collective reports an error or does not finish within the timeout.
  virtual Status synchronize(cudaStream_t stream) = 0;
  /// Makes every rank's pending and future collectives fail.
  virtual void abort(const std::string &why) = 0;
};

/// Ranks that are threads of this process on one GPU. Every collective
/// synchronizes the ranks' streams and meets at a host barrier (with the
/// LocalGroup timeout), then one kernel per rank reduces its share; sums run
/// in rank order, so results are deterministic.
class SharedGpuGroup {
public:
  SharedGpuGroup(int size, Storage storage, std::chrono::seconds timeout);
  std::unique_ptr<DeviceCommunicator> communicator(int rank);

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
StatusOr<std::unique_ptr<DeviceCommunicator>>
ncclCommunicator(const std::string &id, int rank, int size, Storage storage,
                 std::chrono::seconds timeout,
                 const std::atomic<bool> *cancel = nullptr);

} // namespace rose::cuda

#endif // ROSE_RUNTIME_CUDA_COMMUNICATOR_H
