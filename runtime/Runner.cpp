//===- Runner.cpp - runs a program's ranks as threads
//----------------------===//
#include "runtime/Runner.h"
#include "runtime/RankThreads.h"
#include "runtime/VocabParallel.h"
#include "runtime/cpu/CpuBackend.h"
#include "runtime/cpu/Kernels.h"
#include "runtime/cpu/Parallel.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

using namespace rose;

StatusOr<RunResult> rose::runOnCpu(const Program &program,
                                   const RunRequest &req) {
  const Entry &fn = req.entry;
  ROSE_RETURN_IF_ERROR(checkTokenIds(req.tokens, req.batch, req.seq,
                                     program.root().vocab_size()));
  int tp = static_cast<int>(fn.ranks());
  // A batch axis (dp) gives each of its coordinates its rows of the batch.
  int32_t batchAxis = fn.fn->batch_axis();
  int64_t batchParts = batchAxis >= 0 ? fn.axisSize(batchAxis) : 1;
  auto perRankBatch = localBatchOf(fn, req.batch);
  if (!perRankBatch)
    return perRankBatch.status();
  const int64_t localBatch = *perRankBatch;
  // Fail before any rank starts on a call the program cannot lay out.
  auto layout = layoutCall(fn, localBatch, req.seq);
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

  MeshGroups groups(fn, std::chrono::seconds(req.timeoutSeconds));
  auto barrier = [&]() {
    if (!processComm)
      return groups.world.barrier();
    float token = 0.0f; // an all_reduce of one float is a barrier
    return processComm->allReduceSum(&token, 1);
  };
  auto abortAll = [&](const std::string &why) {
    groups.abort(why);
    if (processComm)
      processComm->abort(why);
  };
  std::mutex resultMutex;
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
    std::vector<std::unique_ptr<Communicator>> owned;
    auto comms = groups.communicators(rank, processComm.get(), owned);
    if (!comms) {
      abortAll("rank " + std::to_string(rank) + " has no mesh groups");
      return comms.status();
    }
    // Axis 0's group (the whole mesh when 1-D) serves loss parallelism.
    Communicator *comm = (*comms)[0];
    int64_t rowStart = firstRowOf(fn, rank, localBatch);
    const int64_t *tokens = req.tokens.data() + rowStart * req.seq;
    auto progress = [&](size_t bytes) {
      size_t done = loaded += bytes;
      if (req.loadProgress) {
        std::lock_guard<std::mutex> lock(progressMutex);
        req.loadProgress(done, totalBytes * tp);
      }
    };
    auto weights = RankWeights::load(fn, *req.weights, rank, progress);
    if (!weights) {
      abortAll("rank " + std::to_string(rank) + " failed to load");
      return weights.status();
    }
    // Every rank waits for the others to load before timing the run.
    ROSE_RETURN_IF_ERROR(barrier());
    if (rank == 0)
      loadDoneNs = std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::chrono::steady_clock::now() - start)
                       .count();
    cpu::CpuBackend backend;
    auto executor = Executor::create(fn, *weights, backend, *comms);
    Status status = executor ? (*executor)->bind(localBatch, req.seq, &*layout)
                             : executor.status();
    auto runStart = std::chrono::steady_clock::now();
    if (status.ok())
      status = (*executor)->run(
          tokens, localBatch, req.seq,
          req.trace ? &result.traces[rank] : nullptr,
          rank == 0 && req.checkpoints ? &result.checkpoints : nullptr);
    if (!status.ok()) {
      abortAll("rank " + std::to_string(rank) + " failed");
      return status.withContext("rank " + std::to_string(rank));
    }
    if (rank == 0)
      result.runSeconds = std::chrono::duration<double>(
                              std::chrono::steady_clock::now() - runStart)
                              .count();
    // Repeats: every rank starts each one together (a barrier), rank 0
    // times it to the end of its last op.
    for (int i = 0; i < req.repeats; ++i) {
      if (Status b = barrier(); !b.ok())
        return b.withContext("rank " + std::to_string(rank));
      auto t0 = std::chrono::steady_clock::now();
      // With --profile, the last repeat's trace replaces the first run's
      // (warm caches, as a served model runs).
      std::vector<OpEvent> *trace = nullptr;
      if (req.trace && i + 1 == req.repeats) {
        result.traces[rank].clear();
        trace = &result.traces[rank];
      }
      status = (*executor)->run(tokens, localBatch, req.seq, trace);
      if (!status.ok()) {
        abortAll("rank " + std::to_string(rank) + " failed");
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
        abortAll("rank " + std::to_string(rank) + " failed");
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
    if (processComm && batchParts > 1) {
      // One rank per process: rank 0 collects every dp group's rows.
      size_t n = numElements(shape);
      std::vector<float> all(n * tp);
      Status gathered = processComm->allGather(logits, n, all.data());
      if (!gathered.ok()) {
        abortAll("rank " + std::to_string(rank) + " failed");
        return gathered.withContext("rank " + std::to_string(rank));
      }
      if (rank == 0) {
        result.shape = {req.batch, shape[1], shape[2]};
        result.logits.resize(n * batchParts);
        for (int r = 0; r < tp; ++r)
          if (reportsRows(fn, r))
            std::copy(all.begin() + r * n, all.begin() + (r + 1) * n,
                      result.logits.begin() + fn.coord(r, batchAxis) * n);
      }
      return Status::success();
    }
    if (reportsRows(fn, rank)) {
      // This rank's rows of the whole [batch, seq, vocab] logits.
      std::lock_guard<std::mutex> lock(resultMutex);
      size_t row = numElements(shape) / std::max<int64_t>(shape[0], 1);
      if (result.logits.empty()) {
        result.shape = {req.batch, shape[1], shape[2]};
        result.logits.resize(req.batch * row);
      }
      std::copy(logits, logits + numElements(shape),
                result.logits.begin() + rowStart * row);
    }
    return Status::success();
  };
  ROSE_RETURN_IF_ERROR(
      runRankThreads(ranksOfProcess(tp, processComm.get()), rankMain));
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
