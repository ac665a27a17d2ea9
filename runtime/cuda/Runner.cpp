//===- Runner.cpp - runs a program's ranks on GPUs ------------------------===//
#include "runtime/cuda/Runner.h"
#include "runtime/RankThreads.h"
#include "runtime/cuda/Check.h"
#include "runtime/cuda/CudaBackend.h"

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

using namespace rose;
using namespace rose::cuda;
using Clock = std::chrono::steady_clock;

/// Times `repeats` more calls of the bound executor (the last run's tokens),
/// as one CUDA graph replayed when every communicator allows capture, else as
/// plain launches, checked every few calls so a stalled peer is an error
/// before the launch queue fills. Returns milliseconds per call.
static StatusOr<double> timeRepeats(Executor &executor, CudaBackend &backend,
                                    const std::vector<Communicator *> &comms,
                                    int repeats, bool useGraph) {
  cudaStream_t stream = backend.stream();
  for (Communicator *comm : comms)
    useGraph = useGraph && comm->capturable();
  GraphExecHandle graph;
  if (useGraph) {
    auto captured = backend.capture([&] { return executor.enqueue(); });
    if (!captured)
      return captured.status();
    ROSE_CUDA(cudaGraphInstantiate(graph.out(), captured->get(), 0));
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
      for (Communicator *comm : comms)
        ROSE_RETURN_IF_ERROR(comm->synchronize());
  }
  ROSE_CUDA(cudaEventRecord(stop.get(), stream));
  ROSE_RETURN_IF_ERROR(executor.finish());
  float ms = 0;
  ROSE_CUDA(cudaEventElapsedTime(&ms, start.get(), stop.get()));
  return static_cast<double>(ms) / std::max(1, repeats);
}

namespace {

/// One rank's backend and its communicator on every mesh axis.
struct CudaRank {
  std::unique_ptr<CudaBackend> backend;
  std::vector<std::unique_ptr<Communicator>> owned;
  std::vector<Communicator *> comms; // per mesh axis
  /// Wakes this rank's collectives with an error.
  void abort(const std::string &why) {
    for (auto &comm : owned)
      comm->abort(why);
  }
};

/// Which ranks this process runs, on which devices, over what: NCCL (a GPU
/// per rank, or a process per rank; one communicator over every rank, split
/// into one per mesh-axis slice) or shared-GPU groups (one per slice of
/// every axis).
struct CudaLaunch {
  const Entry *fn = nullptr;
  int total = 1; // ranks of the mesh
  std::vector<int> ranks, device;
  bool nccl = false;
  std::string ncclId;
  /// Shared-GPU groups: [axis][slice].
  std::vector<std::map<int, std::unique_ptr<SharedGpuGroup>>> shared;
  /// Set by the first rank that fails, so NCCL ranks stop waiting for it.
  std::atomic<bool> anyFailed{false};

  Status plan(const Entry &fn, const CudaRunOptions &options,
              std::chrono::seconds timeout);
  /// In rank `rank`'s thread: selects its device, makes its backend and
  /// communicators.
  Status open(int rank, const CudaRunOptions &options,
              std::chrono::seconds timeout, CudaRank &out);
  /// Marks the launch failed and cancels the shared groups' waits.
  void abort(int rank) {
    anyFailed = true;
    for (auto &groups : shared)
      for (auto &[slice, group] : groups)
        group->group.abort("rank " + std::to_string(rank) + " failed");
  }
};

Status CudaLaunch::plan(const Entry &entry, const CudaRunOptions &options,
                        std::chrono::seconds timeout) {
  fn = &entry;
  int axes = static_cast<int>(entry.program->mesh()->size());
  total = static_cast<int>(entry.ranks());
  device.assign(total, 0);
  int devices = 0;
  if (cudaError_t e = cudaGetDeviceCount(&devices);
      e != cudaSuccess || devices == 0)
    return Status::error(
        "--backend cuda: no CUDA device (",
        e == cudaSuccess ? "none found" : cudaGetErrorString(e), ")");
  if (options.process) {
    const ProcessGroupEnv &env = *options.process;
    if (env.size != total)
      return Status::error(env.source, " says ", env.size,
                           " processes but the program has ", total, " ranks");
    if (options.comm == CommKind::Shared)
      return Status::error("--comm shared runs ranks as threads of one "
                           "process; with ",
                           env.source,
                           " set, every process is a rank (use nccl)");
    int32_t batchAxis = entry.fn->batch_axis();
    if (batchAxis >= 0 && entry.axisSize(batchAxis) > 1)
      return Status::error(
          "a mesh with ", entry.axisSize(batchAxis), " '",
          entry.program->mesh()->Get(batchAxis)->name()->str(),
          "' ranks as one process per rank on CUDA: run the ranks as threads "
          "of one process (launch rose-run once)");
    ranks = {env.rank};
    device[env.rank] = env.localRank % devices;
    nccl = true; // every launched process joins NCCL, even a world of one
  } else {
    for (int r = 0; r < total; ++r)
      ranks.push_back(r);
    bool enough = total <= devices;
    if (options.comm == CommKind::Nccl && !enough)
      return Status::error("--comm nccl needs one GPU per rank: ", total,
                           " ranks but ", devices,
                           " device(s); use --comm shared to run the ranks on "
                           "one GPU");
    // An explicit --comm nccl uses NCCL even for one rank (a smoke test of
    // the library on a one-GPU machine).
    nccl = options.comm == CommKind::Nccl ||
           (total > 1 && options.comm == CommKind::Auto && enough);
    for (int r = 0; r < total; ++r)
      device[r] = nccl ? r : 0;
    // The shared-GPU collectives pass one pointer per rank of a group to a
    // kernel.
    if (!nccl)
      for (int a = 0; a < axes; ++a)
        if (entry.axisSize(a) > kMaxLocalRanks)
          return Status::error(
              entry.program->mesh()->Get(a)->name()->str(), "=",
              entry.axisSize(a),
              " ranks on one GPU: the shared-GPU communicator supports at "
              "most ",
              kMaxLocalRanks, " per group (use one GPU per rank)");
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
    return Status::success();
  }
  shared.resize(axes);
  for (int a = 0; a < axes; ++a)
    for (int r = 0; r < total; ++r) {
      auto &group = shared[a][meshSliceOf(entry, r, a)];
      if (!group)
        group = std::make_unique<SharedGpuGroup>(
            static_cast<int>(entry.axisSize(a)), storageOf(options.precision),
            timeout);
    }
  return Status::success();
}

Status CudaLaunch::open(int rank, const CudaRunOptions &options,
                        std::chrono::seconds timeout, CudaRank &out) {
  ROSE_RETURN_IF_ERROR(check(cudaSetDevice(device[rank]), "cudaSetDevice"));
  auto made = CudaBackend::create(options.precision);
  if (!made)
    return made.status();
  out.backend = made.take();
  int axes = static_cast<int>(fn->program->mesh()->size());
  if (!nccl) {
    for (int a = 0; a < axes; ++a) {
      out.owned.push_back(shared[a][meshSliceOf(*fn, rank, a)]->communicator(
          fn->coord(rank, a), out.backend->stream()));
      out.comms.push_back(out.owned.back().get());
    }
    return Status::success();
  }
  auto world =
      ncclCommunicator(ncclId, rank, total, storageOf(options.precision),
                       out.backend->stream(), timeout, &anyFailed);
  if (!world)
    return world.status();
  out.owned.push_back(world.take());
  Communicator *all = out.owned.back().get();
  // A 1-D mesh: the world is the axis. Otherwise one communicator per axis
  // slice, split from the world in axis order (every rank splits alike).
  for (int a = 0; a < axes; ++a) {
    if (fn->axisSize(a) == total) {
      out.comms.push_back(all);
      continue;
    }
    auto sub = all->split(meshSliceOf(*fn, rank, a), fn->coord(rank, a));
    if (!sub)
      return sub.status().withContext(
          "the '" + fn->program->mesh()->Get(a)->name()->str() + "' group");
    out.owned.push_back(sub.take());
    out.comms.push_back(out.owned.back().get());
  }
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
  // A batch axis (dp) gives each of its coordinates its rows of the batch.
  auto perRankBatch = localBatchOf(fn, req.batch);
  if (!perRankBatch)
    return perRankBatch.status();
  const int64_t localBatch = *perRankBatch;
  std::chrono::seconds timeout(req.timeoutSeconds);
  CudaLaunch launch;
  ROSE_RETURN_IF_ERROR(launch.plan(fn, options, timeout));
  const std::vector<int> &ranks = launch.ranks;

  size_t totalBytes = paramBytes(fn, *req.weights);
  std::atomic<size_t> loaded{0};
  std::mutex progressMutex, resultMutex;

  RunResult result;
  result.traces.resize(launch.total);
  CudaRunInfo runInfo;
  auto start = Clock::now();
  std::atomic<int64_t> loadDoneNs{0}, runNs{0};
  LocalGroup startLine(static_cast<int>(ranks.size()), timeout);
  // The rank that reports timings: rank 0, or this process's rank.
  const int reporter = ranks.front();

  auto rankMain = [&](int rank) -> Status {
    CudaRank me;
    auto fail = [&](Status s) {
      launch.abort(rank);
      startLine.abort("rank " + std::to_string(rank) + " failed");
      me.abort(s.message());
      return s.withContext("rank " + std::to_string(rank));
    };
    if (Status s = launch.open(rank, options, timeout, me); !s.ok())
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
    auto executor = Executor::create(fn, *weights, *me.backend, me.comms);
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
      runInfo.communicator = me.comms.back()->name();
    }
    int64_t rowStart = firstRowOf(fn, rank, localBatch);
    auto runStart = Clock::now();
    Status status = (*executor)->run(
        req.tokens.data() + rowStart * req.seq, localBatch, req.seq,
        req.trace ? &result.traces[rank] : nullptr,
        rank == reporter && req.checkpoints ? &result.checkpoints : nullptr);
    if (!status.ok())
      return fail(status);
    if (rank == reporter)
      runNs = std::chrono::duration_cast<std::chrono::nanoseconds>(
                  Clock::now() - runStart)
                  .count();
    if (reportsRows(fn, rank) || rank == reporter) {
      // This rank's rows of the whole [batch, seq, vocab] logits (a process
      // of a multi-process launch has dp = 1: all of them).
      auto logits = (*executor)->read(fn.output());
      if (!logits)
        return fail(logits.status());
      const Shape &shape = (*executor)->shapeOf(fn.output());
      size_t row = numElements(shape) / std::max<int64_t>(shape[0], 1);
      std::lock_guard<std::mutex> lock(resultMutex);
      if (result.logits.empty()) {
        result.shape = {req.batch, shape[1], shape[2]};
        result.logits.resize(req.batch * row);
      }
      std::copy(logits->begin(), logits->end(),
                result.logits.begin() + rowStart * row);
    }
    if (options.repeats > 0) {
      auto ms = timeRepeats(**executor, *me.backend, me.comms, options.repeats,
                            options.graphs);
      if (!ms)
        return fail(ms.status());
      if (rank == reporter) {
        runInfo.msPerRepeat = *ms;
        bool graph = options.graphs;
        for (Communicator *comm : me.comms)
          graph = graph && comm->capturable();
        runInfo.graph = graph;
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
    CudaRank me;
    auto fail = [&](Status s) {
      launch.abort(rank);
      threads.abort("rank " + std::to_string(rank) + " failed");
      me.abort(s.message());
      return s.withContext("rank " + std::to_string(rank));
    };
    if (Status s = launch.open(rank, options, timeout, me); !s.ok())
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
      runInfo.communicator = me.comms.back()->name();
    }
    GenerateRank ctx;
    ctx.rank = rank;
    ctx.backend = me.backend.get();
    ctx.comms = me.comms;
    ctx.weights = &*weights;
    ctx.graphs = options.graphs;
    ctx.abort = [&](const Status &s) {
      launch.abort(rank);
      threads.abort("rank " + std::to_string(rank) + " failed");
      me.abort(s.message());
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
