//===- rose-run.cpp - run a compiled model
//---------------------------------===//
//
// rose-run model.rose (--tokens tokens.npy | --prompt-ids 1,2,3) [--out
// logits.npy] [--backend cpu|cuda] [--dtype fp32|tf32|bf16|fp16] [--comm
// auto|nccl|shared] [--repeat N] [--threads T] [--loss] [--check-against
// dense] [--profile trace.json]
// rose-run model.rose (--prompt TEXT | --tokens | --prompt-ids) --generate N
// [--out-tokens gen.npy] [--temperature T --top-k K --top-p P --seed S]
// [--ignore-eos]
//
// Under mpirun (or with RANK/WORLD_SIZE set) each process runs one rank of a
// CUDA run; rank 0 prints and writes the outputs.
//
// Links only the runtime (no MLIR). Errors are one line, exit status 1, and
// no partial output file.
//
//===----------------------------------------------------------------------===//
#include "RunGenerate.h"
#include "runtime/Npy.h"
#include "runtime/Program.h"
#include "runtime/Rendezvous.h"
#include "runtime/Runner.h"
#ifdef ROSE_HAVE_MPI
#include "runtime/comm/MpiCommunicator.h"
#endif
#ifdef ROSE_HAVE_CUDA
#include "runtime/cuda/Runner.h"
#endif

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <sstream>

using namespace rose;

#ifdef ROSE_HAVE_CUDA
static cuda::CudaRunOptions
cudaOptionsOf(const std::string &dtype, const std::string &commKind,
              const std::optional<ProcessGroupEnv> &process, int repeats,
              bool graphs) {
  cuda::CudaRunOptions o;
  o.precision = dtype == "tf32"   ? cuda::Precision::TF32
                : dtype == "bf16" ? cuda::Precision::BF16
                : dtype == "fp16" ? cuda::Precision::FP16
                                  : cuda::Precision::FP32;
  o.comm = commKind == "nccl"     ? cuda::CommKind::Nccl
           : commKind == "shared" ? cuda::CommKind::Shared
                                  : cuda::CommKind::Auto;
  o.process = process;
  o.repeats = repeats;
  o.graphs = graphs;
  return o;
}
#endif

namespace {

int fail(const std::string &message) {
  std::cerr << "rose-run: error: " << message << "\n";
  return 1;
}

StatusOr<std::vector<int64_t>> parsePromptIds(const std::string &text) {
  std::vector<int64_t> ids;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char *end = nullptr;
    long long v = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0')
      return Status::error("--prompt-ids: '", item, "' is not an integer");
    ids.push_back(v);
  }
  if (ids.empty())
    return Status::error("--prompt-ids: no ids");
  return ids;
}

/// Mean cross entropy of predicting token t + 1 from position t.
double nextTokenLoss(const std::vector<float> &logits, int64_t vocab,
                     const std::vector<int64_t> &tokens, int64_t batch,
                     int64_t seq, int64_t &count) {
  double total = 0.0;
  count = 0;
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t s = 0; s + 1 < seq; ++s) {
      const float *row = logits.data() + (b * seq + s) * vocab;
      double mx = row[0];
      for (int64_t v = 1; v < vocab; ++v)
        mx = std::max<double>(mx, row[v]);
      double sum = 0.0;
      for (int64_t v = 0; v < vocab; ++v)
        sum += std::exp(row[v] - mx);
      total += std::log(sum) + mx - row[tokens[b * seq + s + 1]];
      ++count;
    }
  return count ? total / count : 0.0;
}

Status writeTrace(const std::string &path, const RunResult &result) {
  nlohmann::json events = nlohmann::json::array();
  for (size_t rank = 0; rank < result.traces.size(); ++rank) {
    events.push_back({{"name", "thread_name"},
                      {"ph", "M"},
                      {"pid", 0},
                      {"tid", rank},
                      {"args", {{"name", "rank " + std::to_string(rank)}}}});
    for (const OpEvent &e : result.traces[rank])
      events.push_back(
          {{"name", e.layer.empty() ? e.name : e.name + " " + e.layer},
           {"cat", e.collective ? "collective" : "compute"},
           {"ph", "X"},
           {"ts", e.startUs},
           {"dur", e.durationUs},
           {"pid", 0},
           {"tid", rank},
           {"args", {{"op", e.name}, {"layer", e.layer}}}});
  }
  std::string text =
      nlohmann::json{{"traceEvents", events}, {"displayTimeUnit", "ms"}}.dump(
          -1, ' ', false, nlohmann::json::error_handler_t::replace);
  return writeFileAtomically(path, {{text.data(), text.size()}});
}

} // namespace

static int runMain(int argc, char **argv) {
  CLI::App app{"rose-run: run a model compiled by rose-compile"};
  std::string programPath, tokensPath, promptIds, outPath,
      backend = "cpu", weightsPath, checkAgainst, profilePath;
  std::string dtype = "fp32", commKind = "auto";
  int threads = 0, repeats = 0, timeout = 300;
  bool loss = false, quiet = false, noGraphs = false;
  double tolerance = 1e-4;
  app.add_option("program", programPath, "model.rose")->required();
  auto *tokensOpt =
      app.add_option("--tokens", tokensPath, ".npy int64/int32 [batch, seq]");
  auto *promptOpt =
      app.add_option("--prompt-ids", promptIds, "one sequence: 1,2,3");
  tokensOpt->excludes(promptOpt);
  GenerateFlags gen;
  auto *textOpt = app.add_option("--prompt", gen.prompts,
                                 "text prompt (with --generate; repeat for a "
                                 "batch of prompts of equal token length)");
  textOpt->excludes(tokensOpt)->excludes(promptOpt);
  auto *generateOpt =
      app.add_option("--generate", gen.tokens,
                     "generate N tokens per sequence (prefill + decode over "
                     "the KV cache)")
          ->check(CLI::Range(int64_t(1), int64_t(1) << 24));
  std::vector<CLI::Option *> generateOnly = {
      textOpt,
      app.add_option("--out-tokens", gen.outTokens,
                     "write the generated ids (.npy int64 [batch, N])"),
      app.add_option("--temperature", gen.sampling.temperature,
                     "sample at this temperature (default 0: greedy)")
          ->check(CLI::Range(0.0, 1e6)),
      app.add_option("--top-k", gen.sampling.topK,
                     "sample from the K most likely tokens")
          ->check(CLI::Range(int64_t(1), int64_t(1) << 40)),
      app.add_option("--top-p", gen.sampling.topP,
                     "sample from the smallest set of tokens with this "
                     "probability")
          ->check(CLI::Range(1e-9, 1.0)),
      app.add_option("--seed", gen.sampling.seed,
                     "sampling seed (same seed, same tokens)"),
      app.add_flag("--ignore-eos", gen.ignoreEos,
                   "keep generating after the end-of-sequence id"),
      app.add_option("--tokenizer", gen.tokenizerDir,
                     "tokenizer directory (default: the one rose-compile "
                     "recorded)")};
  app.add_option("--out", outPath, "write logits (.npy float32)");
  app.add_option("--backend", backend, "cpu or cuda")
      ->check(CLI::IsMember({"cpu", "cuda"}));
  app.add_option("--dtype", dtype,
                 "cuda: fp32 (default), tf32 (fp32 storage, TF32 GEMMs), "
                 "bf16 or fp16 (16-bit storage, fp32 accumulation)")
      ->check(CLI::IsMember({"fp32", "tf32", "bf16", "fp16"}));
  app.add_option("--comm", commKind,
                 "cuda collectives: auto (NCCL with a GPU per rank, else "
                 "shared), nccl, or shared (all ranks on one GPU)")
      ->check(CLI::IsMember({"auto", "nccl", "shared"}));
  app.add_option("--repeat", repeats,
                 "time N more runs after the checked one (cpu: median and "
                 "min; cuda: the mean, CUDA graph replays when possible)")
      ->check(CLI::Range(1, 1000000));
  app.add_flag(
      "--no-graphs", noGraphs,
      "cuda: no CUDA graphs (--repeat timing, --generate decode steps)");
  app.add_option("--timeout", timeout,
                 "seconds before a collective that never completes fails "
                 "the run (default 300)")
      ->check(CLI::Range(1, 86400));
  app.add_option("--threads", threads, "total CPU threads (default: all)")
      ->check(CLI::Range(1, 4096));
  app.add_option("--weights", weightsPath,
                 "weights file (default: the one the program names)");
  app.add_flag("--loss", loss, "print the mean next-token cross entropy");
  app.add_option("--check-against", checkAgainst,
                 "dense: compare with the tp=1 program, layer by layer")
      ->check(CLI::IsMember({"dense"}));
  app.add_option("--tolerance", tolerance,
                 "max abs diff for --check-against (default 1e-4)")
      ->check(CLI::Range(0.0, 1e30));
  app.add_option("--profile", profilePath,
                 "write a Chrome/Perfetto trace (per rank, per op)");
  app.add_flag("--quiet", quiet, "print only errors");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    if (e.get_exit_code() == 0)
      return app.exit(e);
    return fail(e.what());
  }
  if (!*generateOpt) {
    for (CLI::Option *o : generateOnly)
      if (o->count())
        return fail(o->get_name() + " needs --generate N");
  } else {
    for (auto [given, name] :
         {std::pair<bool, const char *>{!outPath.empty(), "--out"},
          {loss, "--loss"},
          {!checkAgainst.empty(), "--check-against"},
          {repeats > 0, "--repeat"},
          {!profilePath.empty(), "--profile"}})
      if (given)
        return fail(std::string(name) + " cannot be combined with --generate");
  }
  if (tokensPath.empty() && promptIds.empty() && gen.prompts.empty())
    return fail(*generateOpt
                    ? "give --prompt TEXT, --tokens FILE or --prompt-ids 1,2,3"
                    : "give --tokens FILE or --prompt-ids 1,2,3");
  bool cuda = backend == "cuda";
#ifndef ROSE_HAVE_CUDA
  if (cuda)
    return fail("--backend cuda: this rose-run was built without the CUDA "
                "backend (configure with -DROSE_ENABLE_CUDA=ON)");
#endif
  if (!cuda) {
    if (dtype != "fp32")
      return fail("--dtype " + dtype +
                  " needs --backend cuda (the CPU "
                  "backend computes in fp32)");
    if (app.count("--comm") || noGraphs)
      return fail("--comm and --no-graphs need --backend cuda");
  }
  auto processEnv = processGroupFromEnv();
  if (!processEnv)
    return fail(processEnv.status().message());
  // Every rank of a launch runs the same collectives: what the run computes
  // is decided here, before the non-reporting ranks drop their outputs.
  const bool computeLoss = loss;
  const bool wholeLogits = !outPath.empty() || !checkAgainst.empty();
  std::optional<ProcessGroupEnv> process;
  // On CUDA any launch variables select the process path (NCCL), even for a
  // world of one; on the CPU a world of one is an ordinary run, and more
  // ranks are processes under mpirun with collectives over MPI.
  if (*processEnv && (cuda || (*processEnv)->size > 1)) {
    process = **processEnv;
    if (!cuda && process->source.rfind("OMPI_", 0) != 0)
      return fail(process->source + " says this is one of " +
                  std::to_string(process->size) +
                  " processes; CPU ranks as processes run under mpirun "
                  "(Open MPI), or use --backend cuda");
#ifndef ROSE_HAVE_MPI
    if (!cuda)
      return fail("mpirun says this is one of " +
                  std::to_string(process->size) +
                  " processes, but this rose-run was built without MPI "
                  "(install libopenmpi-dev and reconfigure)");
#endif
    if (!checkAgainst.empty() && process->size > 1)
      return fail("--check-against needs a single-process run");
    // Only rank 0 reports and writes files.
    if (process->rank != 0) {
      quiet = true;
      outPath.clear();
      profilePath.clear();
      loss = false;
    }
  }

  if (*generateOpt) {
    gen.programPath = programPath;
    gen.weightsPath = weightsPath;
    gen.tokensPath = tokensPath;
    gen.promptIds = promptIds;
    gen.quiet = quiet;
    gen.threads = threads;
    gen.timeout = timeout;
    std::function<StatusOr<std::unique_ptr<Communicator>>()> processComm;
#ifdef ROSE_HAVE_MPI
    if (process) {
      auto loaded = Program::load(programPath);
      if (!loaded)
        return fail(loaded.status().message());
      int ranks = static_cast<int>((*loaded)->main().ranks());
      processComm = [ranks, timeout] {
        return mpiCommunicator(ranks, std::chrono::seconds(timeout));
      };
    }
#endif
    if (process && process->rank != 0)
      gen.outTokens.clear();
    Generator generate = generateOnCpu;
#ifdef ROSE_HAVE_CUDA
    if (cuda)
      generate = [options = cudaOptionsOf(dtype, commKind, process, 0, true)](
                     const Program &p, const GenerateRequest &r) {
        return cuda::generateOnCuda(p, r, options);
      };
#endif
    return runGenerate(gen, processComm, !process || process->rank == 0,
                       generate);
  }
  auto program = Program::load(programPath);
  if (!program)
    return fail(program.status().message());
  std::string weightsFile =
      weightsPath.empty() ? (*program)->root().weights()->str() : weightsPath;
  auto weights = WeightFiles::open(weightsFile, /*populate=*/true);
  if (!weights)
    return fail(weights.status().message());

  RunRequest request;
  request.entry = (*program)->main();
  request.weights = *weights;
  request.threads = threads;
  request.trace = !profilePath.empty();
  request.repeats = cuda ? 0 : repeats;
  request.checkpoints = !checkAgainst.empty();
  request.loss = computeLoss;
  // Vocab-sharded logits are gathered only when whole logits are needed.
  request.logits = wholeLogits;
  bool vocabSharded = request.entry.fn->logits_vocab_shards() > 0;
  if (cuda && vocabSharded)
    return fail(programPath + ": vocab-sharded logits (rose-compile "
                              "--lm-head sharded) run on the CPU backend for "
                              "now");
  if (!tokensPath.empty()) {
    auto tokens = readTokensNpy(tokensPath, request.batch, request.seq);
    if (!tokens)
      return fail(tokens.status().message());
    request.tokens = tokens.take();
  } else {
    auto ids = parsePromptIds(promptIds);
    if (!ids)
      return fail(ids.status().message());
    request.tokens = ids.take();
    request.batch = 1;
    request.seq = request.tokens.size();
  }
  // A progress line when loading takes a while (large checkpoints).
  bool showProgress = !quiet && isatty(fileno(stderr));
  int lastPercent = -1;
  request.loadProgress = [&](size_t done, size_t total) {
    int percent = total ? static_cast<int>(100 * done / total) : 100;
    if (showProgress && total > (64u << 20) &&
        percent / 10 != lastPercent / 10) {
      std::cerr << "\rrose-run: loading weights " << percent << "%"
                << (percent == 100 ? "\n" : "") << std::flush;
      lastPercent = percent;
    }
  };

  request.timeoutSeconds = timeout;
#ifdef ROSE_HAVE_MPI
  if (process && !cuda) {
    int ranks = static_cast<int>(request.entry.ranks());
    request.processComm = [ranks, timeout] {
      return mpiCommunicator(ranks, std::chrono::seconds(timeout));
    };
  }
#endif
#ifdef ROSE_HAVE_CUDA
  cuda::CudaRunOptions cudaOptions =
      cudaOptionsOf(dtype, commKind, process, repeats, !noGraphs);
  cuda::CudaRunInfo cudaInfo;
#endif
  auto runOn = [&](const RunRequest &r, bool timed) -> StatusOr<RunResult> {
#ifdef ROSE_HAVE_CUDA
    if (cuda) {
      cuda::CudaRunOptions o = cudaOptions;
      if (!timed)
        o.repeats = 0;
      return cuda::runOnCuda(**program, r, o, timed ? &cudaInfo : nullptr);
    }
#endif
    (void)timed;
    return runOnCpu(**program, r);
  };
  auto result = runOn(request, true);
  if (!result)
    return fail(result.status().message());
  int64_t vocab = result->shape.empty() ? 0 : result->shape.back();

  if (!checkAgainst.empty()) {
    std::optional<Entry> dense = (*program)->entry("dense");
    if (!dense)
      return fail(programPath + ": has no dense program (compiled with "
                                "--no-dense or tp=1)");
    RunRequest denseRequest = request;
    denseRequest.entry = *dense;
    denseRequest.trace = false;
    auto reference = runOn(denseRequest, false);
    if (!reference)
      return fail(reference.status().message());
    // A sequence-parallel checkpoint holds rank 0's chunk of each split dim:
    // compare it with the same leading block of the dense value.
    auto maxDiff = [](const Shape &shape, const std::vector<float> &a,
                      const Shape &denseShape, const std::vector<float> &b) {
      if (shape.size() != denseShape.size())
        return double(INFINITY);
      for (size_t d = 0; d < shape.size(); ++d)
        if (shape[d] > denseShape[d])
          return double(INFINITY);
      double diff = 0.0;
      std::vector<int64_t> index(shape.size(), 0);
      for (size_t i = 0; i < a.size(); ++i) {
        int64_t flat = 0;
        for (size_t d = 0; d < shape.size(); ++d)
          flat = flat * denseShape[d] + index[d];
        diff = std::max<double>(diff, std::fabs(a[i] - b[flat]));
        for (size_t d = shape.size(); d-- > 0;)
          if (++index[d] < shape[d])
            break;
          else
            index[d] = 0;
      }
      return diff;
    };
    std::string firstBad;
    std::cout << "check against dense (tolerance " << tolerance << "):\n";
    for (size_t i = 0;
         i < result->checkpoints.size() && i < reference->checkpoints.size();
         ++i) {
      const Checkpoint &c = result->checkpoints[i],
                       &dense = reference->checkpoints[i];
      double d = maxDiff(c.shape, c.data, dense.shape, dense.data);
      std::cout << "  " << c.name << ": max abs diff " << d << "\n";
      if (!(d <= tolerance) && firstBad.empty())
        firstBad = c.name;
    }
    double d = maxDiff(result->shape, result->logits, reference->shape,
                       reference->logits);
    std::cout << "  logits: max abs diff " << d << "\n";
    if (!(d <= tolerance) && firstBad.empty())
      firstBad = "logits";
    if (firstBad.empty()) {
      std::cout << "  all within tolerance\n";
    } else {
      std::cout << "  first divergence beyond " << tolerance << ": " << firstBad
                << " (the ops before it)\n";
      // A failed check writes no --out or --profile: no partial output.
      std::ostringstream message;
      message << "--check-against dense: " << firstBad
              << " differs by more than " << tolerance;
      return fail(message.str());
    }
  }

  if (!outPath.empty())
    if (Status s = writeFloatNpy(outPath, result->logits.data(), result->shape);
        !s.ok())
      return fail(s.message());
  if (!profilePath.empty())
    if (Status s = writeTrace(profilePath, *result); !s.ok())
      return fail(s.message());

  if (!quiet) {
    std::cout << "next-token argmax:";
    for (int64_t b = 0; b < request.batch; ++b) {
      if (vocabSharded) {
        std::cout << " " << result->argmax[b];
        continue;
      }
      const float *row =
          result->logits.data() + ((b + 1) * request.seq - 1) * vocab;
      std::cout << " " << (std::max_element(row, row + vocab) - row);
    }
    std::cout << "\n";
    if (loss) {
      int64_t count = result->predictions;
      double l = vocabSharded
                     ? result->loss
                     : nextTokenLoss(result->logits, vocab, request.tokens,
                                     request.batch, request.seq, count);
      std::cout << "mean next-token cross entropy: " << std::setprecision(9)
                << l << std::setprecision(6) << " (" << count
                << " predictions)\n";
    }
    if (vocabSharded)
      std::cout << "loss parallel: " << result->lossParallelBytes
                << " bytes per rank for the loss and argmax, instead of "
                << result->gatherBytes << " to gather the logits"
                << (request.logits ? " (gathered anyway for --out or "
                                     "--check-against)"
                                   : "")
                << "\n";
    // "tp=4", or "dp=2 x tp=2" on a 2-D mesh.
    const Entry main = (*program)->main();
    for (uint32_t a = 0; a < main.program->mesh()->size(); ++a)
      std::cout << (a ? " x " : "")
                << main.program->mesh()->Get(a)->name()->str() << "="
                << main.axisSize(a);
    std::cout << ", " << request.batch << "x" << request.seq << " tokens: load "
              << result->loadSeconds * 1e3 << " ms, run "
              << result->runSeconds * 1e3 << " ms\n";
    if (!result->repeatMs.empty()) {
      std::vector<double> ms = result->repeatMs;
      std::sort(ms.begin(), ms.end());
      std::cout << "repeat: " << ms.size() << " runs, median "
                << ms[ms.size() / 2] << " ms, min " << ms.front() << " ms\n";
    }
#ifdef ROSE_HAVE_CUDA
    if (cuda) {
      std::cout << "cuda: " << cudaInfo.device << ", " << dtype
                << ", communicator " << cudaInfo.communicator
                << (process
                        ? ", " + std::to_string(process->size) + " processes"
                        : "")
                << "\n";
      if (repeats > 0)
        std::cout << "repeat: " << repeats << " runs, " << cudaInfo.msPerRepeat
                  << " ms per run" << (cudaInfo.graph ? " (CUDA graph)" : "")
                  << "\n";
    }
#endif
  }
  return 0;
}

int main(int argc, char **argv) {
  int status = runMain(argc, argv);
#ifdef ROSE_HAVE_MPI
  // Under mpirun: a failed rank aborts the job, so the others stop at once.
  mpiShutdown(status != 0);
#endif
  return status;
}
