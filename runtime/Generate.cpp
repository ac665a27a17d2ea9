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
  return checkTokenIds(req.prompts, req.batch, req.promptLength,
                       program.root().vocab_size());
}

StatusOr<GenerateResult> rose::generateOnCpu(const Program &program,
                                             const GenerateRequest &req) {
  ROSE_RETURN_IF_ERROR(checkGenerateRequest(program, req));
  GenerationEntries entries = *entriesOf(program);
  const Entry &fn = entries.prefill;
  const int64_t batch = req.batch, promptLength = req.promptLength;
  const int64_t maxSeq = program.root().max_seq();
  const int64_t vocab = program.root().vocab_size();
  std::vector<int64_t> eos;
  if (auto *ids = program.root().eos_token_ids(); ids && !req.ignoreEos)
    eos.assign(ids->begin(), ids->end());

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
  result.lengths.assign(batch, 0);
  // Rank 0's choice for the step: a token per sequence, then 1 to stop.
  std::vector<int64_t> shared(batch + 1);
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
    BufferSet cache(backend);
    auto prefill =
        Executor::create(entries.prefill, *weights, backend, *comms, &cache);
    if (!prefill)
      return failed(prefill.status());
    auto decode =
        Executor::create(entries.decode, *weights, backend, *comms, &cache);
    if (!decode)
      return failed(decode.status());

    std::vector<bool> stopped(batch, false);
    std::vector<float> whole;
    Sampler sampler(req.sampling);
    // The logits of each sequence's last position, whole on every rank.
    auto lastRows = [&](Executor &e) -> StatusOr<const float *> {
      const Entry &entry = e.entry();
      const Shape &shape = e.shapeOf(entry.output());
      const float *logits = e.hostFloats(entry.output());
      if (entry.fn->logits_vocab_shards() > 0) {
        ROSE_RETURN_IF_ERROR(gatherVocab(logits, shape[0], shape[1], shape[2],
                                         vocab, *(*comms)[0], whole));
        return whole.data();
      }
      return logits;
    };
    auto runStart = std::chrono::steady_clock::now();
    Status status = (*prefill)->run(req.prompts.data(), batch, promptLength,
                                    nullptr, nullptr, {{"past", 0}});
    if (!status.ok())
      return failed(status);
    Executor *last = prefill->get();
    int64_t seq = promptLength;
    for (int64_t step = 1;; ++step) {
      auto logits = lastRows(*last);
      if (!logits)
        return failed(logits.status());
      if (rank == 0) {
        // Columns: the program's logits may be wider than the vocab.
        int64_t columns = last->entry().fn->logits_vocab_shards() > 0
                              ? vocab
                              : last->shapeOf(last->entry().output())[2];
        std::vector<int64_t> next(batch);
        std::vector<bool> before = stopped;
        for (int64_t b = 0; b < batch; ++b) {
          const float *row = *logits + ((b + 1) * seq - 1) * columns;
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
        bool stop = step >= req.maxNewTokens ||
                    std::all_of(stopped.begin(), stopped.end(),
                                [](bool s) { return s; });
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
        double now = secondsSince(runStart);
        if (step == 1)
          result.prefillSeconds = now;
        result.decodeSeconds = now - result.prefillSeconds;
        result.decodeSteps = step - 1;
      }
      // Every rank feeds rank 0's tokens.
      std::vector<int64_t> mine(batch + 1);
      if (processComm) {
        std::vector<float> values(batch + 1, 0.0f);
        if (rank == 0)
          for (int64_t i = 0; i <= batch; ++i)
            values[i] = static_cast<float>(shared[i]);
        if (Status s = processComm->allReduceSum(values.data(), values.size());
            !s.ok())
          return failed(s);
        for (int64_t i = 0; i <= batch; ++i)
          mine[i] = static_cast<int64_t>(values[i]);
      } else {
        if (Status s = barrier(); !s.ok())
          return failed(s);
        mine = shared;
        if (Status s = barrier(); !s.ok())
          return failed(s);
      }
      if (mine[batch])
        break;
      status = (*decode)->run(mine.data(), batch, 1, nullptr, nullptr,
                              {{"past", promptLength + step - 1}});
      if (!status.ok())
        return failed(status);
      last = decode->get();
      seq = 1;
    }
    if (rank == 0)
      result.cacheBytesPerRank = cache.bytes();
    return Status::success();
  };
  ROSE_RETURN_IF_ERROR(
      runRankThreads(ranksOfProcess(tp, processComm.get()), rankMain));
  // [steps, batch] as chosen -> [batch, steps].
  std::vector<int64_t> byStep = std::move(result.tokens);
  result.tokens.assign(batch * result.steps, 0);
  for (int64_t s = 0; s < result.steps; ++s)
    for (int64_t b = 0; b < batch; ++b)
      result.tokens[b * result.steps + s] = byStep[s * batch + b];
  return result;
}
