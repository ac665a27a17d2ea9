//===- Runner.cpp - runs a program's ranks as threads
//----------------------===//
#include "runtime/Runner.h"
#include "runtime/RankThreads.h"
#include "runtime/VocabParallel.h"
#include "runtime/cpu/CpuBackend.h"
#include "runtime/cpu/Kernels.h"
#include "runtime/cpu/Parallel.h"

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

using namespace rose;

StatusOr<RunResult> rose::runOnCpu(const Program &program,
                                   const RunRequest &req) {
  const Entry &fn = req.entry;
  ROSE_RETURN_IF_ERROR(checkTokenIds(req.tokens, req.batch, req.seq,
                                     program.root().vocab_size()));
  if (fn.program->mesh()->size() != 1)
    return Status::error("a mesh of ", fn.program->mesh()->size(),
                         " axes: this runtime runs 1-D meshes");
  int tp = static_cast<int>(fn.ranks());
  // Fail before any rank starts on a call the program cannot lay out.
  auto layout = layoutCall(fn, req.batch, req.seq);
  if (!layout)
    return layout.status();
  // One rank per process (mpirun): this process runs its rank alone.
  std::unique_ptr<Communicator> processComm;
  if (req.processComm) {
    auto made = req.processComm();
    if (!made)
      return made.status();
    processComm = made.take();
  }
  int threads = req.threads > 0
                    ? req.threads
                    : static_cast<int>(std::thread::hardware_concurrency());
  // The BLAS thread budget is split across the ranks (threads of this
  // process, or processes assumed to share the machine).
  const int perRank =
      std::max(1, processComm && req.threads > 0 ? threads : threads / tp);
  // OpenBLAS runs one thread per call: each rank's pool splits GEMMs by
  // columns like every other kernel, so no idle OpenBLAS thread spins on a
  // core a kernel needs (docs/benchmarks.md).
  cpu::setBlasThreads(1);

  size_t totalBytes = paramBytes(fn, *req.weights);
  std::atomic<size_t> loaded{0};

  LocalGroup group(tp, std::chrono::seconds(req.timeoutSeconds));
  auto barrier = [&](Communicator &comm) {
    if (!processComm)
      return group.barrier();
    float token = 0.0f; // an all_reduce of one float is a barrier
    return comm.allReduceSum(&token, 1);
  };
  RunResult result;
  result.traces.resize(tp);
  std::mutex progressMutex;
  auto start = std::chrono::steady_clock::now();
  std::atomic<int64_t> loadDoneNs{0};
  auto rankMain = [&](int rank) -> Status {
    // The rank's kernels share its part of the thread budget.
    cpu::ThreadPool pool(perRank);
    cpu::setThreadPool(&pool);
    struct Unset {
      ~Unset() { cpu::setThreadPool(nullptr); }
    } unset;
    std::unique_ptr<Communicator> owned =
        processComm ? nullptr : group.communicator(rank);
    Communicator *comm = processComm ? processComm.get() : owned.get();
    auto progress = [&](size_t bytes) {
      size_t done = loaded += bytes;
      if (req.loadProgress) {
        std::lock_guard<std::mutex> lock(progressMutex);
        req.loadProgress(done, totalBytes * tp);
      }
    };
    auto weights = RankWeights::load(fn, *req.weights, rank, progress);
    if (!weights) {
      comm->abort("rank " + std::to_string(rank) + " failed to load");
      return weights.status();
    }
    // Every rank waits for the others to load before timing the run.
    ROSE_RETURN_IF_ERROR(barrier(*comm));
    if (rank == 0)
      loadDoneNs = std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::chrono::steady_clock::now() - start)
                       .count();
    cpu::CpuBackend backend;
    auto executor = Executor::create(fn, *weights, backend, *comm);
    Status status = executor ? (*executor)->bind(req.batch, req.seq, &*layout)
                             : executor.status();
    auto runStart = std::chrono::steady_clock::now();
    if (status.ok())
      status = (*executor)->run(
          req.tokens.data(), req.batch, req.seq,
          req.trace ? &result.traces[rank] : nullptr,
          rank == 0 && req.checkpoints ? &result.checkpoints : nullptr);
    if (!status.ok()) {
      comm->abort("rank " + std::to_string(rank) + " failed");
      return status.withContext("rank " + std::to_string(rank));
    }
    if (rank == 0)
      result.runSeconds = std::chrono::duration<double>(
                              std::chrono::steady_clock::now() - runStart)
                              .count();
    // Repeats: every rank starts each one together (a barrier), rank 0
    // times it to the end of its last op.
    for (int i = 0; i < req.repeats; ++i) {
      if (Status b = barrier(*comm); !b.ok())
        return b.withContext("rank " + std::to_string(rank));
      auto t0 = std::chrono::steady_clock::now();
      // With --profile, the last repeat's trace replaces the first run's
      // (warm caches, as a served model runs).
      std::vector<OpEvent> *trace = nullptr;
      if (req.trace && i + 1 == req.repeats) {
        result.traces[rank].clear();
        trace = &result.traces[rank];
      }
      status = (*executor)->run(req.tokens.data(), req.batch, req.seq, trace);
      if (!status.ok()) {
        comm->abort("rank " + std::to_string(rank) + " failed");
        return status.withContext("rank " + std::to_string(rank));
      }
      if (rank == 0)
        result.repeatMs.push_back(std::chrono::duration<double, std::milli>(
                                      std::chrono::steady_clock::now() - t0)
                                      .count());
    }
    const Shape &shape = (*executor)->shapeOf(fn.output());
    const float *logits = (*executor)->hostFloats(fn.output());
    if (fn.fn->logits_vocab_shards() > 0) {
      // Loss parallel: every rank takes part; rank 0 keeps the results.
      int64_t vocab = program.root().vocab_size();
      auto stats = shardedLogitStats(logits, shape[0], shape[1], shape[2],
                                     vocab, req.tokens, req.loss, *comm);
      std::vector<float> whole;
      Status gathered = stats && req.logits
                            ? gatherVocab(logits, shape[0], shape[1], shape[2],
                                          vocab, *comm, whole)
                            : Status::success();
      if (!stats || !gathered.ok()) {
        comm->abort("rank " + std::to_string(rank) + " failed");
        return (!stats ? stats.status() : gathered)
            .withContext("rank " + std::to_string(rank));
      }
      if (rank == 0) {
        result.argmax = stats->argmax;
        result.loss = stats->loss;
        result.predictions = stats->predictions;
        result.lossParallelBytes = stats->bytesPerRank;
        result.gatherBytes = numElements(shape) * sizeof(float) * (tp - 1);
        result.shape = {shape[0], shape[1], vocab};
        result.logits = std::move(whole);
      }
      return Status::success();
    }
    if (rank == 0) {
      result.shape = shape;
      result.logits.assign(logits, logits + numElements(shape));
    }
    return Status::success();
  };
  std::vector<int> ranks;
  for (int r = 0; r < tp; ++r)
    if (!processComm || r == processComm->rank())
      ranks.push_back(r);
  ROSE_RETURN_IF_ERROR(runRankThreads(ranks, rankMain));
  double total =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  result.loadSeconds = loadDoneNs.load() / 1e9;
  double repeated = 0;
  for (double ms : result.repeatMs)
    repeated += ms / 1e3;
  result.runSeconds = total - result.loadSeconds - repeated;
  return result;
}
