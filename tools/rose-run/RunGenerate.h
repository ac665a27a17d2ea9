//===- RunGenerate.h - rose-run --generate ----------------------*- C++ -*-===//
#ifndef ROSE_TOOLS_ROSE_RUN_RUNGENERATE_H
#define ROSE_TOOLS_ROSE_RUN_RUNGENERATE_H

#include "runtime/Generate.h"

#include <string>
#include <vector>

namespace rose {

struct GenerateFlags {
  std::string programPath, weightsPath, tokensPath, promptIds, outTokens;
  std::vector<std::string> prompts; // --prompt, one per sequence
  std::string tokenizerDir;         // --tokenizer (default: the program's)
  int64_t tokens = 0;               // --generate
  SamplingOptions sampling;
  bool ignoreEos = false, quiet = false;
  int threads = 0, timeout = 300;
};

/// How the ranks generate: generateOnCpu, or generateOnCuda with its
/// options.
using Generator = std::function<StatusOr<GenerateResult>(
    const Program &, const GenerateRequest &)>;

/// rose-run --generate: prompts in, tokens (and text) out; the exit status.
int runGenerate(
    const GenerateFlags &flags,
    std::function<StatusOr<std::unique_ptr<Communicator>>()> processComm,
    bool reports, const Generator &generate);

} // namespace rose

#endif // ROSE_TOOLS_ROSE_RUN_RUNGENERATE_H
