//===- MpiCommunicator.cpp - CPU collectives between processes ------------===//
#include "runtime/comm/MpiCommunicator.h"

#include <mpi.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <thread>
#include <vector>

using namespace rose;

namespace {

std::string mpiError(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  return std::string(text, length);
}

class MpiCommunicator : public Communicator {
public:
  MpiCommunicator(MPI_Comm comm, int rank, int size,
                  std::chrono::seconds timeout, bool owned = false)
      : comm(comm), r(rank), n(size), timeout(timeout), owned(owned) {}
  ~MpiCommunicator() override {
    if (owned)
      MPI_Comm_free(&comm);
  }
  int rank() const override { return r; }
  int size() const override { return n; }
  const char *name() const override { return "mpi"; }

  Status allReduceSum(void *data, size_t count) override {
    return allReduce(static_cast<float *>(data), count,
                     [](float a, float b) { return a + b; });
  }
  Status allReduceMax(void *data, size_t count) override {
    return allReduce(static_cast<float *>(data), count,
                     [](float a, float b) { return std::max(a, b); });
  }

  Status allGather(const void *in, size_t count, void *out) override {
    if (count > static_cast<size_t>(std::numeric_limits<int>::max()))
      return Status::error("MPI all_gather of ", count,
                           " floats per rank: over MPI's int count");
    MPI_Request request;
    int rc = MPI_Iallgather(in, static_cast<int>(count), MPI_FLOAT, out,
                            static_cast<int>(count), MPI_FLOAT, comm, &request);
    return wait(rc, request, "all_gather");
  }

  Status reduceScatterSum(const void *in, size_t count, void *output) override {
    // Rank k's chunk k of every rank, summed over the ranks in order.
    float *out = static_cast<float *>(output);
    std::vector<float> chunks(count * n);
    ROSE_RETURN_IF_ERROR(
        allToAll(static_cast<const float *>(in), count, chunks.data()));
    for (size_t i = 0; i < count; ++i) {
      float sum = chunks[i];
      for (int k = 1; k < n; ++k)
        sum += chunks[k * count + i];
      out[i] = sum;
    }
    return Status::success();
  }

  void abort(const std::string &) override { aborted = true; }

  StatusOr<std::unique_ptr<Communicator>> split(int color, int key) override {
    MPI_Comm sub;
    int rc = MPI_Comm_split(comm, color, key, &sub);
    if (rc != MPI_SUCCESS)
      return Status::error("MPI_Comm_split: ", mpiError(rc));
    MPI_Comm_set_errhandler(sub, MPI_ERRORS_RETURN);
    int rank = 0, size = 0;
    MPI_Comm_rank(sub, &rank);
    MPI_Comm_size(sub, &size);
    return std::unique_ptr<Communicator>(
        std::make_unique<MpiCommunicator>(sub, rank, size, timeout, true));
  }

private:
  /// Like LocalGroup: rank k reduces elements [k x c, (k + 1) x c) over the
  /// ranks in order 0..N-1, then everyone gathers the reduced chunks.
  template <typename Op> Status allReduce(float *data, size_t count, Op op) {
    size_t chunk = (count + n - 1) / n;
    std::vector<float> padded(chunk * n, 0.0f), mine(chunk * n), reduced(chunk);
    std::memcpy(padded.data(), data, count * sizeof(float));
    ROSE_RETURN_IF_ERROR(allToAll(padded.data(), chunk, mine.data()));
    for (size_t i = 0; i < chunk; ++i) {
      float acc = mine[i];
      for (int k = 1; k < n; ++k)
        acc = op(acc, mine[k * chunk + i]);
      reduced[i] = acc;
    }
    ROSE_RETURN_IF_ERROR(allGather(reduced.data(), chunk, padded.data()));
    std::memcpy(data, padded.data(), count * sizeof(float));
    return Status::success();
  }

  Status allToAll(const void *in, size_t count, void *out) override {
    if (count > static_cast<size_t>(std::numeric_limits<int>::max()))
      return Status::error("MPI all_to_all of ", count,
                           " floats per rank: over MPI's int count");
    MPI_Request request;
    int rc = MPI_Ialltoall(in, static_cast<int>(count), MPI_FLOAT, out,
                           static_cast<int>(count), MPI_FLOAT, comm, &request);
    return wait(rc, request, "all_to_all");
  }

  /// Polls a non-blocking collective until it completes or the timeout.
  Status wait(int rc, MPI_Request &request, const char *what) {
    if (aborted)
      return Status::error("collective aborted");
    if (rc != MPI_SUCCESS)
      return Status::error("MPI ", what, ": ", mpiError(rc));
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (int done = 0;;) {
      rc = MPI_Test(&request, &done, MPI_STATUS_IGNORE);
      if (rc != MPI_SUCCESS)
        return Status::error("MPI ", what, ": ", mpiError(rc));
      if (done)
        return Status::success();
      if (std::chrono::steady_clock::now() > deadline)
        return Status::error("MPI ", what, " did not complete within ",
                             timeout.count(),
                             " s (a rank died or never joined)");
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }

  MPI_Comm comm;
  int r, n;
  std::chrono::seconds timeout;
  bool owned;
  bool aborted = false;
};

} // namespace

StatusOr<std::unique_ptr<Communicator>>
rose::mpiCommunicator(int expectedSize, std::chrono::seconds timeout) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    // The rank runs on a thread of its own (runRankThreads), not on the
    // thread that initialized MPI: one thread at a time calls MPI.
    int provided = 0;
    if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided) !=
        MPI_SUCCESS)
      return Status::error("MPI_Init failed");
    if (provided < MPI_THREAD_SERIALIZED)
      return Status::error("this MPI library does not allow MPI calls from "
                           "the rank's thread (MPI_THREAD_SERIALIZED)");
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  }
  int rank = 0, size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size != expectedSize)
    return Status::error("MPI world of ", size,
                         " processes but the program has ", expectedSize,
                         " ranks");
  return std::unique_ptr<Communicator>(
      std::make_unique<MpiCommunicator>(MPI_COMM_WORLD, rank, size, timeout));
}

void rose::mpiShutdown(bool failed) {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (!initialized || finalized)
    return;
  if (failed)
    MPI_Abort(MPI_COMM_WORLD, 1);
  else
    MPI_Finalize();
}
