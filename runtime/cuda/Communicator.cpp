//===- Communicator.cpp - collectives between ranks on GPUs ---------------===//
#include "runtime/cuda/Communicator.h"
#include "runtime/cuda/Check.h"

#include <atomic>
#include <cstring>
#include <thread>

using namespace rose;
using namespace rose::cuda;
using Clock = std::chrono::steady_clock;

SharedGpuGroup::SharedGpuGroup(int size, Storage storage,
                               std::chrono::seconds timeout)
    : group(size, timeout), storage(storage), inputs(size), outputs(size) {}

namespace {

class SharedGpuCommunicator : public Communicator {
public:
  SharedGpuCommunicator(SharedGpuGroup &g, int rank, cudaStream_t stream)
      : g(g), r(rank), stream(stream) {}
  int rank() const override { return r; }
  int size() const override { return g.group.size; }
  const char *name() const override {
    return size() == 1 ? "none" : "shared-gpu";
  }
  // A lone rank's collectives are plain copies: no host sync, so capturable.
  bool capturable() const override { return size() == 1; }

  Status allReduceSum(void *data, size_t n) override {
    // Rank r reduces elements [r * chunk, (r + 1) * chunk) of every rank's
    // buffer and writes the sum back to all of them: shares are disjoint,
    // so the in-place update needs no scratch buffer.
    ROSE_RETURN_IF_ERROR(arrive(data, data));
    size_t es = storageBytes(g.storage), tp = size();
    size_t chunk = (n + tp - 1) / tp;
    size_t begin = std::min(n, r * chunk), end = std::min(n, begin + chunk);
    if (end > begin) {
      std::vector<const void *> src(tp);
      std::vector<void *> dst(tp);
      for (size_t k = 0; k < tp; ++k) {
        src[k] = static_cast<const char *>(g.inputs[k]) + begin * es;
        dst[k] = static_cast<char *>(g.outputs[k]) + begin * es;
      }
      sumInto(g.storage, src.data(), tp, dst.data(), tp, end - begin, stream);
    }
    return leave();
  }

  Status allGather(const void *in, size_t n, void *out) override {
    // Rank r writes its input into every rank's output at slot r.
    ROSE_RETURN_IF_ERROR(arrive(in, out));
    size_t bytes = n * storageBytes(g.storage);
    for (int k = 0; k < size(); ++k)
      ROSE_CUDA(cudaMemcpyAsync(static_cast<char *>(g.outputs[k]) + r * bytes,
                                in, bytes, cudaMemcpyDeviceToDevice, stream));
    return leave();
  }

  Status allToAll(const void *in, size_t n, void *out) override {
    // Rank r writes its chunk k into rank k's output at slot r.
    ROSE_RETURN_IF_ERROR(arrive(in, out));
    size_t bytes = n * storageBytes(g.storage);
    for (int k = 0; k < size(); ++k)
      ROSE_CUDA(cudaMemcpyAsync(static_cast<char *>(g.outputs[k]) + r * bytes,
                                static_cast<const char *>(in) + k * bytes,
                                bytes, cudaMemcpyDeviceToDevice, stream));
    return leave();
  }

  Status reduceScatterSum(const void *in, size_t n, void *out) override {
    ROSE_RETURN_IF_ERROR(arrive(in, out));
    size_t es = storageBytes(g.storage);
    std::vector<const void *> src(size());
    for (int k = 0; k < size(); ++k)
      src[k] = static_cast<const char *>(g.inputs[k]) + r * n * es;
    void *dst[] = {out};
    sumInto(g.storage, src.data(), size(), dst, 1, n, stream);
    return leave();
  }

  Status allReduceMax(void *, size_t) override {
    return Status::error("max all_reduce is not implemented on the shared-GPU "
                         "communicator");
  }

  Status synchronize() override {
    ROSE_CUDA(cudaStreamSynchronize(stream));
    return Status::success();
  }
  void abort(const std::string &why) override { g.group.abort(why); }

private:
  /// Publishes this rank's buffers once its stream has produced them.
  Status arrive(const void *in, void *out) {
    g.inputs[r] = in;
    g.outputs[r] = out;
    if (size() == 1)
      return Status::success();
    ROSE_CUDA(cudaStreamSynchronize(stream));
    return g.group.barrier();
  }
  /// Nobody reuses a buffer until every rank's kernel has finished with it.
  Status leave() {
    ROSE_CUDA(cudaGetLastError());
    if (size() == 1)
      return Status::success();
    ROSE_CUDA(cudaStreamSynchronize(stream));
    return g.group.barrier();
  }

  SharedGpuGroup &g;
  int r;
  cudaStream_t stream;
};

ncclDataType_t ncclType(Storage s) {
  switch (s) {
  case Storage::F32:
    return ncclFloat32;
  case Storage::BF16:
    return ncclBfloat16;
  case Storage::F16:
    return ncclFloat16;
  }
  return ncclFloat32;
}

/// Waits for a non-blocking NCCL communicator to finish initializing (init
/// or split): a peer that never joins is a timeout error, a failed rank of
/// this process (`cancel`) an abort. Frees the communicator on failure.
Status awaitComm(ncclComm_t comm, ncclResult_t result, const char *what,
                 std::chrono::seconds timeout,
                 const std::atomic<bool> *cancel) {
  Clock::time_point deadline = Clock::now() + timeout;
  while (result == ncclInProgress && comm) {
    if (cancel && *cancel) {
      ncclCommAbort(comm);
      return Status::error(what, ": collective aborted: another rank failed");
    }
    if (Clock::now() > deadline) {
      ncclCommAbort(comm);
      return Status::error(what, ": the other ranks did not join within ",
                           timeout.count(), " s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    ncclCommGetAsyncError(comm, &result);
  }
  if (result != ncclSuccess) {
    std::string detail = comm ? ncclGetLastError(comm) : "";
    if (comm)
      ncclCommAbort(comm);
    return Status::error(what, " failed: ", ncclGetErrorString(result),
                         detail.empty() ? "" : " (" + detail + ")");
  }
  return Status::success();
}

class NcclCommunicator : public Communicator {
public:
  NcclCommunicator(ncclComm_t comm, int rank, int size, Storage storage,
                   cudaStream_t stream, std::chrono::seconds timeout,
                   const std::atomic<bool> *cancel)
      : comm(comm), r(rank), n(size), storage(storage), type(ncclType(storage)),
        elementBytes(storageBytes(storage)), stream(stream), timeout(timeout),
        cancel(cancel) {}
  ~NcclCommunicator() override {
    if (aborted)
      return; // ncclCommAbort freed it
    ncclCommDestroy(comm);
  }
  int rank() const override { return r; }
  int size() const override { return n; }
  const char *name() const override { return "nccl"; }
  bool capturable() const override { return true; }

  Status allReduceSum(void *data, size_t count) override {
    ROSE_RETURN_IF_ERROR(ready("ncclAllReduce"));
    return settle(ncclAllReduce(data, data, count, type, ncclSum, comm, stream),
                  "ncclAllReduce");
  }
  Status allReduceMax(void *data, size_t count) override {
    ROSE_RETURN_IF_ERROR(ready("ncclAllReduce"));
    return settle(ncclAllReduce(data, data, count, type, ncclMax, comm, stream),
                  "ncclAllReduce");
  }
  Status allGather(const void *in, size_t count, void *out) override {
    ROSE_RETURN_IF_ERROR(ready("ncclAllGather"));
    return settle(ncclAllGather(in, out, count, type, comm, stream),
                  "ncclAllGather");
  }
  Status allToAll(const void *in, size_t count, void *out) override {
    // NCCL has no all-to-all collective: one send and one receive per peer
    // in a group, which NCCL runs concurrently.
    ROSE_RETURN_IF_ERROR(ready("ncclSend/ncclRecv"));
    size_t bytes = count * elementBytes;
    ROSE_RETURN_IF_ERROR(settle(ncclGroupStart(), "ncclGroupStart"));
    for (int k = 0; k < n; ++k) {
      ncclResult_t sent = ncclSend(static_cast<const char *>(in) + k * bytes,
                                   count, type, k, comm, stream);
      ncclResult_t received = ncclRecv(static_cast<char *>(out) + k * bytes,
                                       count, type, k, comm, stream);
      if (sent != ncclSuccess && sent != ncclInProgress)
        received = sent;
      if (received != ncclSuccess && received != ncclInProgress) {
        ncclGroupEnd();
        return check(received, "ncclSend/ncclRecv");
      }
    }
    return settle(ncclGroupEnd(), "ncclGroupEnd (all_to_all)");
  }

  Status reduceScatterSum(const void *in, size_t count, void *out) override {
    ROSE_RETURN_IF_ERROR(ready("ncclReduceScatter"));
    return settle(
        ncclReduceScatter(in, out, count, type, ncclSum, comm, stream),
        "ncclReduceScatter");
  }

  Status synchronize() override {
    // Poll rather than cudaStreamSynchronize: a peer that died leaves the
    // collective spinning on the GPU forever.
    cudaEvent_t done;
    ROSE_CUDA(cudaEventCreateWithFlags(&done, cudaEventDisableTiming));
    if (Status s = check(cudaEventRecord(done, stream), "cudaEventRecord");
        !s.ok()) {
      cudaEventDestroy(done);
      return s;
    }
    Clock::time_point deadline = Clock::now() + timeout;
    Status status;
    for (;;) {
      cudaError_t e = cudaEventQuery(done);
      if (e == cudaSuccess)
        break;
      if (e != cudaErrorNotReady) {
        status = check(e, "waiting for the GPU");
        break;
      }
      ncclResult_t async = ncclSuccess;
      ncclCommGetAsyncError(comm, &async);
      if (async != ncclSuccess && async != ncclInProgress) {
        status = check(async, "an NCCL collective");
        abortComm();
        break;
      }
      if (cancel && *cancel) {
        status = Status::error("collective aborted: another rank failed");
        abortComm();
        break;
      }
      if (Clock::now() > deadline) {
        status = Status::error("an NCCL collective did not complete within ",
                               timeout.count(),
                               " s (a rank stopped or the network is down)");
        abortComm();
        break;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    cudaEventDestroy(done);
    return status;
  }

  void abort(const std::string &) override { abortComm(); }

  /// One group per mesh-axis slice (ncclCommSplit, NCCL >= 2.18), on the
  /// same stream and device.
  StatusOr<std::unique_ptr<Communicator>> split(int color, int key) override {
    ROSE_RETURN_IF_ERROR(ready("ncclCommSplit"));
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;
    ncclComm_t sub = nullptr;
    ncclResult_t result = ncclCommSplit(comm, color, key, &sub, &config);
    if (!sub) {
      // Still enqueuing on the parent: wait for that, then for the child.
      ROSE_RETURN_IF_ERROR(settle(result, "ncclCommSplit"));
      if (!sub)
        return Status::error("ncclCommSplit returned no communicator");
      result = ncclInProgress;
    }
    ROSE_RETURN_IF_ERROR(
        awaitComm(sub, result, "ncclCommSplit", timeout, cancel));
    int rank = 0, size = 0;
    ROSE_RETURN_IF_ERROR(
        check(ncclCommUserRank(sub, &rank), "ncclCommUserRank"));
    ROSE_RETURN_IF_ERROR(check(ncclCommCount(sub, &size), "ncclCommCount"));
    return std::unique_ptr<Communicator>(std::make_unique<NcclCommunicator>(
        sub, rank, size, storage, stream, timeout, cancel));
  }

private:
  /// Checked before every NCCL call: an aborted communicator has been
  /// freed by ncclCommAbort, and a failed peer means the call would wait.
  Status ready(const char *what) {
    if (aborted)
      return Status::error(what, ": the communicator was aborted");
    if (cancel && *cancel) {
      abortComm();
      return Status::error(what, ": collective aborted: another rank failed");
    }
    return Status::success();
  }
  /// A non-blocking communicator may still be enqueuing: wait for that
  /// (host-side, short) before the next NCCL call; a failed peer or the
  /// timeout ends the wait.
  Status settle(ncclResult_t result, const char *what) {
    Clock::time_point deadline = Clock::now() + timeout;
    while (result == ncclInProgress) {
      if (cancel && *cancel) {
        abortComm();
        return Status::error(what, ": collective aborted: another rank failed");
      }
      if (Clock::now() > deadline) {
        abortComm();
        return Status::error(what, " did not start within ", timeout.count(),
                             " s");
      }
      std::this_thread::yield();
      ncclCommGetAsyncError(comm, &result);
    }
    return check(result, what);
  }
  void abortComm() {
    if (!aborted.exchange(true))
      ncclCommAbort(comm);
  }

  ncclComm_t comm;
  int r, n;
  Storage storage;
  ncclDataType_t type;
  size_t elementBytes;
  cudaStream_t stream;
  std::chrono::seconds timeout;
  const std::atomic<bool> *cancel;
  std::atomic<bool> aborted{false};
};

} // namespace

std::unique_ptr<Communicator>
SharedGpuGroup::communicator(int rank, cudaStream_t stream) {
  return std::make_unique<SharedGpuCommunicator>(*this, rank, stream);
}

StatusOr<std::string> rose::cuda::newNcclId() {
  ncclUniqueId id;
  ROSE_CUDA(ncclGetUniqueId(&id));
  return std::string(id.internal, sizeof(id.internal));
}

StatusOr<std::unique_ptr<Communicator>>
rose::cuda::ncclCommunicator(const std::string &idBytes, int rank, int size,
                             Storage storage, cudaStream_t stream,
                             std::chrono::seconds timeout,
                             const std::atomic<bool> *cancel) {
  ncclUniqueId id;
  if (idBytes.size() != sizeof(id.internal))
    return Status::error("NCCL id of ", idBytes.size(), " bytes, expected ",
                         sizeof(id.internal));
  std::memcpy(id.internal, idBytes.data(), sizeof(id.internal));
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  ncclComm_t comm = nullptr;
  ncclResult_t result = ncclCommInitRankConfig(&comm, size, id, rank, &config);
  std::string what = "NCCL init of rank " + std::to_string(rank) + " of " +
                     std::to_string(size);
  ROSE_RETURN_IF_ERROR(awaitComm(comm, result, what.c_str(), timeout, cancel));
  return std::unique_ptr<Communicator>(std::make_unique<NcclCommunicator>(
      comm, rank, size, storage, stream, timeout, cancel));
}
