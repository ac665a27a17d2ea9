//===- Generate.cpp - text generation over a KV cache ---------------------===//
#include "runtime/Generate.h"
#include "runtime/Executor.h"
#include "runtime/RankThreads.h"
#include "runtime/VocabParallel.h"
#include "runtime/cpu/CpuBackend.h"
#include "runtime/cpu/Kernels.h"
#include "runtime/cpu/Parallel.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

using namespace rose;

namespace {

struct GenerationEntries {
  Entry prefill, decode;
};

StatusOr<GenerationEntries> entriesOf(const Program &program) {
  std::optional<Entry> prefill = program.entry("prefill"),
                       decode = program.entry("decode");
  if (!prefill || !decode || program.root().max_seq() <= 0)
    return Status::error("the program has no generation entries (rose-compile "
                         "said why: 'no generation entries: ...')");
  return GenerationEntries{*prefill, *decode};
}

double secondsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t)
      .count();
}

} // namespace

Status rose::checkGenerateRequest(const Program &program,
                                  const GenerateRequest &req) {
  auto entries = entriesOf(program);
  if (!entries)
    return entries.status();
  const Entry &fn = entries->prefill;
  if (fn.fn->batch_axis() >= 0 && fn.axisSize(fn.fn->batch_axis()) > 1)
    return Status::error(
        "generation on a mesh with a batch axis ('",
        fn.program->mesh()->Get(fn.fn->batch_axis())->name()->str(),
        "') is not supported yet: compile with --tp only");
  int64_t maxSeq = program.root().max_seq();
  if (req.promptLength < 1)
    return Status::error("the prompt is empty");
  if (req.promptLength > maxSeq)
    return Status::error("a prompt of ", req.promptLength,
                         " tokens does not fit the KV cache of ", maxSeq,
                         " positions (rose-compile --max-seq)");
  if (req.maxNewTokens < 1)
    return Status::error("--generate must be at least 1");
  // Ranks in separate processes share token ids as float sums.
  if (program.root().vocab_size() > (int64_t(1) << 24))
    return Status::error("a vocabulary of ", program.root().vocab_size(),
                         " tokens: generation supports at most 2^24");
  return checkTokenIds(req.prompts, req.batch, req.promptLength,
                       program.root().vocab_size());
}

Status rose::generateOnRank(const Program &program, const GenerateRequest &req,
                            const GenerateRank &ctx, GenerateResult &result) {
  GenerationEntries entries = *entriesOf(program);
  const int64_t batch = req.batch, promptLength = req.promptLength;
  const int64_t maxSeq = program.root().max_seq();
  const int64_t vocab = program.root().vocab_size();
  const bool reporter = ctx.rank == 0;
  std::vector<int64_t> eos;
  if (auto *ids = program.root().eos_token_ids(); ids && !req.ignoreEos)
    eos.assign(ids->begin(), ids->end());

  auto failed = [&](const Status &s) {
    if (ctx.abort)
      ctx.abort(s);
    return s;
  };
  BufferSet cache(*ctx.backend);
  auto prefill = Executor::create(entries.prefill, *ctx.weights, *ctx.backend,
                                  ctx.comms, &cache);
  if (!prefill)
    return failed(prefill.status());
  auto decode = Executor::create(entries.decode, *ctx.weights, *ctx.backend,
                                 ctx.comms, &cache);
  if (!decode)
    return failed(decode.status());
  (*decode)->useGraphs(ctx.graphs);

  std::vector<bool> stopped(batch, false);
  std::vector<float> host, whole;
  Sampler sampler(req.sampling);
  // The logits of the call's positions (prefill may keep only the last),
  // whole and on the host on every rank.
  // Other ranks need them only to gather vocab shards.
  auto logitsOf = [&](Executor &e) -> StatusOr<const float *> {
    const Entry &entry = e.entry();
    const Shape &shape = e.shapeOf(entry.output());
    if (!reporter && entry.fn->logits_vocab_shards() == 0)
      return nullptr;
    const float *logits = e.hostFloats(entry.output());
    if (!logits) {
      auto read = e.read(entry.output());
      if (!read)
        return read.status();
      host = read.take();
      logits = host.data();
    }
    if (entry.fn->logits_vocab_shards() > 0) {
      ROSE_RETURN_IF_ERROR(gatherVocab(logits, shape[0], shape[1], shape[2],
                                       vocab, *ctx.comms[0], whole));
      return whole.data();
    }
    return logits;
  };
  // Rank 0's timings count from here (after the params are placed).
  auto start = std::chrono::steady_clock::now();
  if (Status s = (*prefill)->run(req.prompts.data(), batch, promptLength,
                                 nullptr, nullptr, {{"past", 0}});
      !s.ok())
    return failed(s);
  Executor *last = prefill->get();
  std::vector<int64_t> shared(batch + 1);
  for (int64_t step = 1;; ++step) {
    auto logits = logitsOf(*last);
    if (!logits)
      return failed(logits.status());
    if (reporter) {
      const Shape &shape = last->shapeOf(last->entry().output());
      // Columns: the program's logits may be wider than the vocab. Rows:
      // the call's positions, or only the last (rose-compile keeps just
      // that row in prefill when it can).
      int64_t columns =
          last->entry().fn->logits_vocab_shards() > 0 ? vocab : shape[2];
      int64_t rows = shape[1];
      std::vector<int64_t> next(batch);
      std::vector<bool> before = stopped;
      for (int64_t b = 0; b < batch; ++b) {
        const float *row = *logits + ((b + 1) * rows - 1) * columns;
        int64_t token = sampler.next(row, vocab);
        if (stopped[b]) { // padding: its end id again
          next[b] = result.tokens[result.tokens.size() - batch + b];
          continue;
        }
        next[b] = token;
        ++result.lengths[b];
        if (std::find(eos.begin(), eos.end(), token) != eos.end())
          stopped[b] = true;
      }
      result.tokens.insert(result.tokens.end(), next.begin(), next.end());
      result.steps = step;
      if (req.onStep)
        req.onStep(next, before);
      bool stop =
          step >= req.maxNewTokens ||
          std::all_of(stopped.begin(), stopped.end(), [](bool s) { return s; });
      // The next decode writes position promptLength + step - 1.
      if (!stop && promptLength + step > maxSeq) {
        result.stoppedEarly = "the KV cache is full (" +
                              std::to_string(maxSeq) +
                              " positions; rose-compile --max-seq)";
        stop = true;
      }
      std::copy(next.begin(), next.end(), shared.begin());
      shared[batch] = stop;
      // Prefill ends with the first token; decode is the rest.
      double now = secondsSince(start);
      if (step == 1)
        result.prefillSeconds = now;
      result.decodeSeconds = now - result.prefillSeconds;
      result.decodeSteps = step - 1;
    }
    // Every rank feeds rank 0's tokens.
    if (Status s = ctx.share(shared); !s.ok())
      return failed(s);
    if (shared[batch])
      break;
    if (Status s = (*decode)->run(shared.data(), batch, 1, nullptr, nullptr,
                                  {{"past", promptLength + step - 1}});
        !s.ok())
      return failed(s);
    if (reporter && (*decode)->ranAsGraph())
      ++result.graphSteps;
    last = decode->get();
  }
  if (reporter)
    result.cacheBytesPerRank = cache.bytes();
  return Status::success();
}

Status ThreadBoard::share(int rank, std::vector<int64_t> &values,
                          const std::function<Status()> &barrier) {
  if (rank == 0)
    posted = values;
  ROSE_RETURN_IF_ERROR(barrier());
  values = posted;
  return barrier();
}

void rose::finishGenerateResult(GenerateResult &result, int64_t batch) {
  std::vector<int64_t> byStep = std::move(result.tokens);
  result.tokens.assign(batch * result.steps, 0);
  for (int64_t s = 0; s < result.steps; ++s)
    for (int64_t b = 0; b < batch; ++b)
      result.tokens[b * result.steps + s] = byStep[s * batch + b];
}

StatusOr<GenerateResult> rose::generateOnCpu(const Program &program,
                                             const GenerateRequest &req) {
  ROSE_RETURN_IF_ERROR(checkGenerateRequest(program, req));
  const Entry fn = entriesOf(program)->prefill;
  std::unique_ptr<Communicator> processComm;
  if (req.processComm) {
    auto made = req.processComm();
    if (!made)
      return made.status();
    processComm = made.take();
  }
  int tp = static_cast<int>(fn.ranks());
  int threads = req.threads > 0
                    ? req.threads
                    : static_cast<int>(std::thread::hardware_concurrency());
  const int perRank =
      std::max(1, processComm && req.threads > 0 ? threads : threads / tp);
  cpu::setBlasThreads(1);

  MeshGroups groups(fn, std::chrono::seconds(req.timeoutSeconds));
  auto barrier = [&]() {
    if (!processComm)
      return groups.world.barrier();
    float token = 0.0f;
    return processComm->allReduceSum(&token, 1);
  };
  auto abortAll = [&](const std::string &why) {
    groups.abort(why);
    if (processComm)
      processComm->abort(why);
  };

  GenerateResult result;
  result.lengths.assign(req.batch, 0);
  ThreadBoard board; // rank 0's tokens, for ranks that are threads
  auto start = std::chrono::steady_clock::now();

  auto rankMain = [&](int rank) -> Status {
    cpu::ThreadPool pool(perRank);
    cpu::setThreadPool(&pool);
    struct Unset {
      ~Unset() { cpu::setThreadPool(nullptr); }
    } unset;
    auto failed = [&](const Status &s) {
      abortAll("rank " + std::to_string(rank) + " failed");
      return s.withContext("rank " + std::to_string(rank));
    };
    std::vector<std::unique_ptr<Communicator>> owned;
    auto comms = groups.communicators(rank, processComm.get(), owned);
    if (!comms)
      return failed(comms.status());
    auto weights = RankWeights::load(fn, *req.weights, rank, nullptr);
    if (!weights)
      return failed(weights.status());
    if (Status s = barrier(); !s.ok())
      return failed(s);
    if (rank == 0)
      result.loadSeconds = secondsSince(start);
    cpu::CpuBackend backend;
    GenerateRank ctx;
    ctx.rank = rank;
    ctx.backend = &backend;
    ctx.comms = *comms;
    ctx.weights = &*weights;
    ctx.abort = [&](const Status &) {
      abortAll("rank " + std::to_string(rank) + " failed");
    };
    ctx.share = [&](std::vector<int64_t> &values) -> Status {
      if (processComm) { // an mpirun process per rank: a sum from rank 0
        std::vector<float> sum(values.size(), 0.0f);
        if (rank == 0)
          for (size_t i = 0; i < values.size(); ++i)
            sum[i] = static_cast<float>(values[i]);
        ROSE_RETURN_IF_ERROR(processComm->allReduceSum(sum.data(), sum.size()));
        for (size_t i = 0; i < values.size(); ++i)
          values[i] = static_cast<int64_t>(sum[i]);
        return Status::success();
      }
      return board.share(rank, values, barrier);
    };
    if (Status s = generateOnRank(program, req, ctx, result); !s.ok())
      return failed(s);
    return Status::success();
  };
  ROSE_RETURN_IF_ERROR(
      runRankThreads(ranksOfProcess(tp, processComm.get()), rankMain));
  finishGenerateResult(result, req.batch);
  return result;
}
