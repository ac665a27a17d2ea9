//===- Runner.cpp - runs a program's ranks on GPUs ------------------------===//
#include "runtime/cuda/Runner.h"
#include "runtime/RankThreads.h"
#include "runtime/cuda/Check.h"
#include "runtime/cuda/CudaBackend.h"

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

using namespace rose;
using namespace rose::cuda;
using Clock = std::chrono::steady_clock;

/// Times `repeats` more calls of the bound executor (the last run's tokens),
/// as one CUDA graph replayed when the communicator allows capture, else as
/// plain launches, checked every few calls so a stalled peer is an error
/// before the launch queue fills. Returns milliseconds per call.
static StatusOr<double> timeRepeats(Executor &executor, CudaBackend &backend,
                                    Communicator &comm, int repeats,
                                    bool useGraph) {
  cudaStream_t stream = backend.stream();
  useGraph = useGraph && comm.capturable();
  GraphExecHandle graph;
  if (useGraph) {
    GraphHandle captured;
    ROSE_CUDA(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
    Status status = executor.enqueue();
    cudaError_t end = cudaStreamEndCapture(stream, captured.out());
    ROSE_RETURN_IF_ERROR(status);
    ROSE_CUDA(end);
    ROSE_CUDA(cudaGraphInstantiate(graph.out(), captured.get(), 0));
    // One untimed replay: the first launch uploads the graph.
    ROSE_CUDA(cudaGraphLaunch(graph.get(), stream));
    ROSE_RETURN_IF_ERROR(executor.finish());
  }
  EventHandle start, stop;
  ROSE_CUDA(cudaEventCreate(start.out()));
  ROSE_CUDA(cudaEventCreate(stop.out()));
  ROSE_CUDA(cudaEventRecord(start.get(), stream));
  constexpr int kCheckEvery = 8;
  for (int i = 0; i < repeats; ++i) {
    if (useGraph)
      ROSE_CUDA(cudaGraphLaunch(graph.get(), stream));
    else
      ROSE_RETURN_IF_ERROR(executor.enqueue());
    if (!useGraph && (i + 1) % kCheckEvery == 0 && i + 1 < repeats)
      ROSE_RETURN_IF_ERROR(comm.synchronize());
  }
  ROSE_CUDA(cudaEventRecord(stop.get(), stream));
  ROSE_RETURN_IF_ERROR(executor.finish());
  float ms = 0;
  ROSE_CUDA(cudaEventElapsedTime(&ms, start.get(), stop.get()));
  return static_cast<double>(ms) / std::max(1, repeats);
}

StatusOr<RunResult> rose::cuda::runOnCuda(const Program &program,
                                          const RunRequest &req,
                                          const CudaRunOptions &options,
                                          CudaRunInfo *info) {
  const Entry &fn = req.entry;
  ROSE_RETURN_IF_ERROR(checkTokenIds(req.tokens, req.batch, req.seq,
                                     program.root().vocab_size()));
  if (fn.program->mesh()->size() != 1)
    return Status::error("a mesh of ", fn.program->mesh()->size(),
                         " axes: the CUDA backend runs 1-D (tp) meshes; run a "
                         "dp x tp mesh with --backend cpu");
  int tp = static_cast<int>(fn.ranks());
  std::chrono::seconds timeout(req.timeoutSeconds);

  int devices = 0;
  if (cudaError_t e = cudaGetDeviceCount(&devices);
      e != cudaSuccess || devices == 0)
    return Status::error(
        "--backend cuda: no CUDA device (",
        e == cudaSuccess ? "none found" : cudaGetErrorString(e), ")");

  // Which ranks this process runs, on which devices, over what.
  std::vector<int> ranks, device(tp, 0);
  bool nccl = false;
  if (options.process) {
    const ProcessGroupEnv &env = *options.process;
    if (env.size != tp)
      return Status::error(env.source, " says ", env.size,
                           " processes but the program has tp=", tp);
    if (options.comm == CommKind::Shared)
      return Status::error("--comm shared runs ranks as threads of one "
                           "process; with ",
                           env.source,
                           " set, every process is a rank (use nccl)");
    ranks = {env.rank};
    device[env.rank] = env.localRank % devices;
    nccl = true; // every launched process joins NCCL, even a world of one
  } else {
    for (int r = 0; r < tp; ++r)
      ranks.push_back(r);
    bool enough = tp <= devices;
    if (options.comm == CommKind::Nccl && !enough)
      return Status::error("--comm nccl needs one GPU per rank: tp=", tp,
                           " but ", devices,
                           " device(s); use --comm shared to run the ranks on "
                           "one GPU");
    // An explicit --comm nccl uses NCCL even for one rank (a smoke test of
    // the library on a one-GPU machine).
    nccl = options.comm == CommKind::Nccl ||
           (tp > 1 && options.comm == CommKind::Auto && enough);
    for (int r = 0; r < tp; ++r)
      device[r] = nccl ? r : 0;
    // The shared-GPU collectives pass one pointer per rank to a kernel.
    if (!nccl && tp > kMaxLocalRanks)
      return Status::error("tp=", tp,
                           " ranks on one GPU: the shared-GPU "
                           "communicator supports at most ",
                           kMaxLocalRanks, " (use one GPU per rank)");
  }

  // The NCCL id: made here for threads, or exchanged with the other
  // processes through rank 0.
  std::string ncclId;
  if (nccl) {
    if (!options.process || options.process->rank == 0) {
      auto id = newNcclId();
      if (!id)
        return id.status();
      ncclId = id.take();
    }
    if (options.process) {
      auto shared = exchangeBlob(
          *options.process, ncclId,
          std::chrono::duration_cast<std::chrono::milliseconds>(timeout));
      if (!shared)
        return shared.status();
      ncclId = shared.take();
    }
  }
  SharedGpuGroup shared(nccl ? 1 : tp, storageOf(options.precision), timeout);

  size_t totalBytes = paramBytes(fn, *req.weights);
  std::atomic<size_t> loaded{0};
  std::mutex progressMutex;

  RunResult result;
  result.traces.resize(tp);
  CudaRunInfo runInfo;
  auto start = Clock::now();
  std::atomic<int64_t> loadDoneNs{0}, runNs{0};
  LocalGroup startLine(static_cast<int>(ranks.size()), timeout);
  // The rank that reports: rank 0, or this process's rank.
  const int reporter = ranks.front();

  // Set by the first rank that fails, so NCCL ranks stop waiting for it.
  std::atomic<bool> anyFailed{false};
  auto rankMain = [&](int rank) -> Status {
    auto fail = [&](Status s) {
      anyFailed = true;
      shared.group.abort("rank " + std::to_string(rank) + " failed");
      startLine.abort("rank " + std::to_string(rank) + " failed");
      return s.withContext("rank " + std::to_string(rank));
    };
    if (Status s = check(cudaSetDevice(device[rank]), "cudaSetDevice"); !s.ok())
      return fail(s);
    auto backend = CudaBackend::create(options.precision);
    if (!backend)
      return fail(backend.status());
    std::unique_ptr<Communicator> comm;
    if (nccl) {
      auto c = ncclCommunicator(ncclId, rank, tp, storageOf(options.precision),
                                (*backend)->stream(), timeout, &anyFailed);
      if (!c)
        return fail(c.status());
      comm = c.take();
    } else {
      comm = shared.communicator(rank, (*backend)->stream());
    }
    auto progress = [&](size_t bytes) {
      size_t done = loaded += bytes;
      if (req.loadProgress) {
        std::lock_guard<std::mutex> lock(progressMutex);
        req.loadProgress(done, totalBytes * ranks.size());
      }
    };
    auto weights = RankWeights::load(fn, *req.weights, rank, progress);
    if (!weights)
      return fail(weights.status());
    auto executor = Executor::create(fn, *weights, **backend, *comm);
    if (!executor)
      return fail(executor.status());
    if (Status s = startLine.barrier(); !s.ok())
      return fail(s);
    if (rank == reporter) {
      loadDoneNs = std::chrono::duration_cast<std::chrono::nanoseconds>(
                       Clock::now() - start)
                       .count();
      cudaDeviceProp prop;
      if (cudaGetDeviceProperties(&prop, device[rank]) == cudaSuccess)
        runInfo.device = prop.name;
      runInfo.communicator = comm->name();
    }
    auto runStart = Clock::now();
    Status status = (*executor)->run(
        req.tokens.data(), req.batch, req.seq,
        req.trace ? &result.traces[rank] : nullptr,
        rank == reporter && req.checkpoints ? &result.checkpoints : nullptr);
    if (!status.ok()) {
      comm->abort(status.message());
      return fail(status);
    }
    if (rank == reporter) {
      runNs = std::chrono::duration_cast<std::chrono::nanoseconds>(
                  Clock::now() - runStart)
                  .count();
      auto logits = (*executor)->read(fn.output());
      if (!logits)
        return fail(logits.status());
      result.logits = logits.take();
      result.shape = (*executor)->shapeOf(fn.output());
    }
    if (options.repeats > 0) {
      auto ms = timeRepeats(**executor, **backend, *comm, options.repeats,
                            options.graphs);
      if (!ms) {
        comm->abort(ms.status().message());
        return fail(ms.status());
      }
      if (rank == reporter) {
        runInfo.msPerRepeat = *ms;
        runInfo.graph = options.graphs && comm->capturable();
      }
    }
    return Status::success();
  };
  ROSE_RETURN_IF_ERROR(runRankThreads(ranks, rankMain));
  result.loadSeconds = loadDoneNs.load() / 1e9;
  result.runSeconds = runNs.load() / 1e9;
  if (info)
    *info = runInfo;
  return result;
}
