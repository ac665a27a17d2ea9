//===- Generate.h - text generation over a KV cache -------------*- C++ -*-===//
//
// Runs a program's "prefill" entry on the prompts (filling each rank's KV
// cache, which holds only the rank's kv heads) and then its "decode" entry
// one token per sequence per step, attending to the cache. Rank 0 picks the
// next tokens (Sampling.h) and shares them, so every rank feeds the same
// ids. Prompts are a batch of equal length.
//
//===----------------------------------------------------------------------===//
#ifndef ROSE_RUNTIME_GENERATE_H
#define ROSE_RUNTIME_GENERATE_H

#include "runtime/Backend.h"
#include "runtime/Communicator.h"
#include "runtime/Program.h"
#include "runtime/Sampling.h"
#include "runtime/WeightFiles.h"
#include "runtime/Weights.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace rose {

struct GenerateRequest {
  std::shared_ptr<WeightFiles> weights;
  std::vector<int64_t> prompts; // [batch, promptLength], row-major
  int64_t batch = 0, promptLength = 0;
  int64_t maxNewTokens = 0;
  SamplingOptions sampling;
  /// Keep generating after an end-of-sequence id.
  bool ignoreEos = false;
  int threads = 0; // total CPU threads (0: all cores)
  int timeoutSeconds = 300;
  /// After each step, on rank 0: the step's token per sequence, and which
  /// sequences had already stopped before it (their token is padding).
  std::function<void(const std::vector<int64_t> &tokens,
                     const std::vector<bool> &stopped)>
      onStep;
  /// Set when this process is one rank of an mpirun launch.
  std::function<StatusOr<std::unique_ptr<Communicator>>()> processComm;
};

struct GenerateResult {
  /// [batch, steps]: the generated ids; a sequence that stopped at its end
  /// id is padded with that id.
  std::vector<int64_t> tokens;
  int64_t steps = 0;
  std::vector<int64_t> lengths; // tokens per sequence, its end id included
  /// Non-empty when generation stopped at the cache's end (max_seq).
  std::string stoppedEarly;
  /// Prefill: until the first token is chosen; decode: the steps after.
  double loadSeconds = 0, prefillSeconds = 0, decodeSeconds = 0;
  int64_t decodeSteps = 0; // steps - 1
  int64_t graphSteps = 0;  // decode steps launched as one CUDA graph each
  size_t cacheBytesPerRank = 0;
};

/// Checks a request against the program before anything loads: the entries
/// exist, the prompt fits the cache, the ids the vocab.
Status checkGenerateRequest(const Program &program,
                            const GenerateRequest &request);

/// Generates on CPU ranks (threads of this process, or this process's rank
/// of an mpirun launch).
StatusOr<GenerateResult> generateOnCpu(const Program &program,
                                       const GenerateRequest &request);

/// What one rank generates with, on any backend: the runners (CPU, CUDA)
/// set it up and call generateOnRank from each rank's thread.
struct GenerateRank {
  int rank = 0;
  Backend *backend = nullptr;
  std::vector<Communicator *> comms; // one per mesh axis
  const RankWeights *weights = nullptr;
  /// Decode steps through Backend::launchCaptured (a CUDA graph each).
  bool graphs = false;
  /// Hands rank 0's values (a token per sequence, then the stop flag) to
  /// every rank: on return each rank's vector holds rank 0's.
  std::function<Status(std::vector<int64_t> &)> share;
  /// Called with the error before a failing rank releases anything (its
  /// executors, the cache), so peers waiting in a collective stop first.
  std::function<void(const Status &)> abort;
};

/// GenerateRank::share for ranks that are threads of one process: rank 0
/// posts its values, every thread copies them between two barriers.
class ThreadBoard {
public:
  Status share(int rank, std::vector<int64_t> &values,
               const std::function<Status()> &barrier);

private:
  std::vector<int64_t> posted;
};

/// One rank's generation: prefill, then decode one token per sequence per
/// step until done. Rank 0 chooses the tokens and fills `result`.
Status generateOnRank(const Program &program, const GenerateRequest &request,
                      const GenerateRank &rank, GenerateResult &result);

/// The tokens rank 0 chose, [steps, batch] -> [batch, steps].
void finishGenerateResult(GenerateResult &result, int64_t batch);

} // namespace rose

#endif // ROSE_RUNTIME_GENERATE_H
