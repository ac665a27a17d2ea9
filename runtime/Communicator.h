//===- Communicator.h - collectives between TP ranks ------------*- C++ -*-===//
#ifndef ROSE_RUNTIME_COMMUNICATOR_H
#define ROSE_RUNTIME_COMMUNICATOR_H

#include "runtime/Status.h"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

namespace rose {

/// Collectives over the ranks of one group, on contiguous buffers of the
/// backend's stored floats (the executor permutes dims so the exchanged
/// chunks are contiguous). One interface for every transport: threads of
/// this process and MPI on host float32 buffers, NCCL and the shared-GPU
/// group on device buffers, ordered on the stream they were made for.
/// Sums are computed in rank order 0..N-1, so results are deterministic.
class Communicator {
public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  /// "threads", "mpi", "nccl", "shared-gpu".
  virtual const char *name() const = 0;
  /// data[0..n) <- sum over ranks of data[0..n).
  virtual Status allReduceSum(void *data, size_t n) = 0;
  /// data[0..n) <- max over ranks of data[0..n).
  virtual Status allReduceMax(void *data, size_t n) = 0;
  /// out[r * n .. (r + 1) * n) <- rank r's in[0..n).
  virtual Status allGather(const void *in, size_t n, void *out) = 0;
  /// out[r * n .. (r + 1) * n) <- rank r's in[rank * n .. (rank + 1) * n):
  /// chunk j of every rank's input goes to rank j.
  virtual Status allToAll(const void *in, size_t n, void *out) = 0;
  /// out[0..n) <- sum over ranks of in[rank * n .. (rank + 1) * n).
  virtual Status reduceScatterSum(const void *in, size_t n, void *out) = 0;
  /// True when collectives only enqueue work (never block the host), so a
  /// whole call can be captured and replayed (CUDA graphs).
  virtual bool capturable() const { return false; }
  /// Waits until the collectives issued so far completed. Fails, instead of
  /// hanging, when one reports an error or exceeds the timeout.
  virtual Status synchronize() { return Status::success(); }
  /// Wakes every rank blocked in a collective with an error: a rank that
  /// failed must not leave the others waiting forever.
  virtual void abort(const std::string &why) = 0;
  /// The group of the ranks that pass the same `color`, ordered by `key`
  /// (MPI_Comm_split): one per slice of a mesh axis. Collective: every rank
  /// calls it. Transports without it say so.
  virtual StatusOr<std::unique_ptr<Communicator>> split(int color, int key);
};

/// State shared by the threads of an in-process group (CPU ranks, or ranks
/// sharing one GPU).
class LocalGroup {
public:
  explicit LocalGroup(int size,
                      std::chrono::seconds timeout = std::chrono::seconds(300));
  std::unique_ptr<Communicator> communicator(int rank);

  /// Waits until every rank arrives; fails when the group is aborted or the
  /// wait exceeds the timeout (a collective that never completes).
  Status barrier();
  void abort(const std::string &why);

  int size;
  std::vector<const float *> inputs;
  std::vector<float> scratch;

private:
  std::mutex mutex;
  std::condition_variable cv;
  int arrived = 0;
  uint64_t generation = 0;
  bool aborted = false;
  std::string abortReason;
  std::chrono::seconds timeout;
};

} // namespace rose

#endif // ROSE_RUNTIME_COMMUNICATOR_H
