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

namespace {

/// Which ranks this process runs, on which devices, over what: NCCL (a GPU
/// per rank, or a process per rank) or the shared-GPU group.
struct CudaLaunch {
  int tp = 1;
  std::vector<int> ranks, device;
  bool nccl = false;
  std::string ncclId;
  std::unique_ptr<SharedGpuGroup> shared;
  /// Set by the first rank that fails, so NCCL ranks stop waiting for it.
  std::atomic<bool> anyFailed{false};

  Status plan(const Entry &fn, const CudaRunOptions &options,
              std::chrono::seconds timeout);
  /// In rank `rank`'s thread: selects its device, makes its backend and
  /// communicator.
  Status open(int rank, const CudaRunOptions &options,
              std::chrono::seconds timeout,
              std::unique_ptr<CudaBackend> &backend,
              std::unique_ptr<Communicator> &comm);
  /// Marks the launch failed and cancels the shared group's waits.
  void abort(int rank) {
    anyFailed = true;
    shared->group.abort("rank " + std::to_string(rank) + " failed");
  }
};

Status CudaLaunch::plan(const Entry &fn, const CudaRunOptions &options,
                        std::chrono::seconds timeout) {
  if (fn.program->mesh()->size() != 1)
    return Status::error("a mesh of ", fn.program->mesh()->size(),
                         " axes: the CUDA backend runs 1-D (tp) meshes; run a "
                         "dp x tp mesh with --backend cpu");
  tp = static_cast<int>(fn.ranks());
  device.assign(tp, 0);
  int devices = 0;
  if (cudaError_t e = cudaGetDeviceCount(&devices);
      e != cudaSuccess || devices == 0)
    return Status::error(
        "--backend cuda: no CUDA device (",
        e == cudaSuccess ? "none found" : cudaGetErrorString(e), ")");
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
  if (nccl) {
    if (!options.process || options.process->rank == 0) {
      auto id = newNcclId();
      if (!id)
        return id.status();
      ncclId = id.take();
    }
    if (options.process) {
      auto exchanged = exchangeBlob(
          *options.process, ncclId,
          std::chrono::duration_cast<std::chrono::milliseconds>(timeout));
      if (!exchanged)
        return exchanged.status();
      ncclId = exchanged.take();
    }
  }
  shared = std::make_unique<SharedGpuGroup>(
      nccl ? 1 : tp, storageOf(options.precision), timeout);
  return Status::success();
}

Status CudaLaunch::open(int rank, const CudaRunOptions &options,
                        std::chrono::seconds timeout,
                        std::unique_ptr<CudaBackend> &backend,
                        std::unique_ptr<Communicator> &comm) {
  ROSE_RETURN_IF_ERROR(check(cudaSetDevice(device[rank]), "cudaSetDevice"));
  auto made = CudaBackend::create(options.precision);
  if (!made)
    return made.status();
  backend = made.take();
  if (!nccl) {
    comm = shared->communicator(rank, backend->stream());
    return Status::success();
  }
  auto c = ncclCommunicator(ncclId, rank, tp, storageOf(options.precision),
                            backend->stream(), timeout, &anyFailed);
  if (!c)
    return c.status();
  comm = c.take();
  return Status::success();
}

} // namespace

StatusOr<RunResult> rose::cuda::runOnCuda(const Program &program,
                                          const RunRequest &req,
                                          const CudaRunOptions &options,
                                          CudaRunInfo *info) {
  const Entry &fn = req.entry;
  ROSE_RETURN_IF_ERROR(checkTokenIds(req.tokens, req.batch, req.seq,
                                     program.root().vocab_size()));
  std::chrono::seconds timeout(req.timeoutSeconds);
  CudaLaunch launch;
  ROSE_RETURN_IF_ERROR(launch.plan(fn, options, timeout));
  const std::vector<int> &ranks = launch.ranks;
  int tp = launch.tp;

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

  auto rankMain = [&](int rank) -> Status {
    auto fail = [&](Status s) {
      launch.abort(rank);
      startLine.abort("rank " + std::to_string(rank) + " failed");
      return s.withContext("rank " + std::to_string(rank));
    };
    std::unique_ptr<CudaBackend> backend;
    std::unique_ptr<Communicator> comm;
    if (Status s = launch.open(rank, options, timeout, backend, comm); !s.ok())
      return fail(s);
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
    auto executor = Executor::create(fn, *weights, *backend, *comm);
    if (!executor)
      return fail(executor.status());
    if (Status s = startLine.barrier(); !s.ok())
      return fail(s);
    if (rank == reporter) {
      loadDoneNs = std::chrono::duration_cast<std::chrono::nanoseconds>(
                       Clock::now() - start)
                       .count();
      cudaDeviceProp prop;
      if (cudaGetDeviceProperties(&prop, launch.device[rank]) == cudaSuccess)
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
      auto ms = timeRepeats(**executor, *backend, *comm, options.repeats,
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

StatusOr<GenerateResult>
rose::cuda::generateOnCuda(const Program &program, const GenerateRequest &req,
                           const CudaRunOptions &options, CudaRunInfo *info) {
  ROSE_RETURN_IF_ERROR(checkGenerateRequest(program, req));
  if (options.process)
    return Status::error("--generate on CUDA runs the ranks as threads of one "
                         "process (",
                         options.process->source,
                         " is set): launch rose-run once");
  const Entry fn = *program.entry("prefill");
  if (fn.fn->logits_vocab_shards() > 0)
    return Status::error("--generate on CUDA with vocab-sharded logits "
                         "(--lm-head sharded) is not supported: compile "
                         "without it");
  std::chrono::seconds timeout(req.timeoutSeconds);
  CudaLaunch launch;
  ROSE_RETURN_IF_ERROR(launch.plan(fn, options, timeout));
  const std::vector<int> &ranks = launch.ranks;

  GenerateResult result;
  result.lengths.assign(req.batch, 0);
  CudaRunInfo runInfo;
  auto start = Clock::now();
  // Barriers between the rank threads, and how rank 0's tokens reach the
  // others (host memory: every rank's thread is in this process).
  LocalGroup threads(static_cast<int>(ranks.size()), timeout);
  ThreadBoard board;

  auto rankMain = [&](int rank) -> Status {
    std::unique_ptr<CudaBackend> backend;
    std::unique_ptr<Communicator> comm;
    auto fail = [&](Status s) {
      launch.abort(rank);
      threads.abort("rank " + std::to_string(rank) + " failed");
      if (comm)
        comm->abort(s.message());
      return s.withContext("rank " + std::to_string(rank));
    };
    if (Status s = launch.open(rank, options, timeout, backend, comm); !s.ok())
      return fail(s);
    auto weights = RankWeights::load(fn, *req.weights, rank, nullptr);
    if (!weights)
      return fail(weights.status());
    if (Status s = threads.barrier(); !s.ok())
      return fail(s);
    if (rank == 0) {
      result.loadSeconds =
          std::chrono::duration<double>(Clock::now() - start).count();
      cudaDeviceProp prop;
      if (cudaGetDeviceProperties(&prop, launch.device[rank]) == cudaSuccess)
        runInfo.device = prop.name;
      runInfo.communicator = comm->name();
    }
    GenerateRank ctx;
    ctx.rank = rank;
    ctx.backend = backend.get();
    ctx.comms = {comm.get()};
    ctx.weights = &*weights;
    ctx.abort = [&](const Status &s) {
      launch.abort(rank);
      threads.abort("rank " + std::to_string(rank) + " failed");
      comm->abort(s.message());
    };
    ctx.share = [&](std::vector<int64_t> &values) {
      return board.share(rank, values, [&] { return threads.barrier(); });
    };
    if (Status s = generateOnRank(program, req, ctx, result); !s.ok())
      return fail(s);
    return Status::success();
  };
  ROSE_RETURN_IF_ERROR(runRankThreads(ranks, rankMain));
  finishGenerateResult(result, req.batch);
  if (info)
    *info = runInfo;
  return result;
}
