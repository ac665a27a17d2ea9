//===- FuzzProgram.cpp - fuzz program loading and execution
//----------------===//
//
// Any program the validator accepts must run without touching memory out of
// bounds: the harness runs accepted programs on two tokens with zero weights.
//
//===----------------------------------------------------------------------===//
#include "FuzzUtil.h"
#include "runtime/CheckedMath.h"
#include "runtime/Communicator.h"
#include "runtime/Executor.h"
#include "runtime/Program.h"
#include "runtime/cpu/CpuBackend.h"

#include <cstdlib>
#include <thread>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string path = rose::fuzz::writeScratch("model.rose", data, size);
  auto program = rose::Program::load(path);
  if (!program)
    return 0;
  rose::Entry fn = (*program)->main();
  // Keep runs small: the point is bounds, not throughput.
  std::optional<int64_t> elements = 0;
  std::vector<bool> used = fn.usedParams();
  for (size_t i = 0; i < used.size(); ++i)
    if (used[i]) {
      std::optional<int64_t> n = rose::checkedProduct(*fn.param(i)->shape());
      elements = elements && n ? rose::checkedAdd(*elements, *n) : std::nullopt;
    }
  auto layout = rose::layoutCall(fn, 1, 2);
  // The gate's seeded smoke (ROSE_FUZZ_DETERMINISTIC) executes one-rank
  // programs only: ranks as threads hit code in an order the scheduler picks
  // (which rank sees an abort first), so coverage, and the inputs explored,
  // would vary from run to run. Random fuzzing executes every program.
  static const bool oneRank = std::getenv("ROSE_FUZZ_DETERMINISTIC") != nullptr;
  if (fn.ranks() > (oneRank ? 1 : 4) || fn.program->mesh()->size() != 1 ||
      !elements || *elements > (1 << 22) || !layout ||
      layout->arenaBytes > (1 << 24))
    return 0;
  auto weights = rose::RankWeights::zeros(fn);
  int64_t vocab = (*program)->root().vocab_size();
  std::vector<int64_t> tokens = {0, vocab > 1 ? 1 : 0};
  rose::LocalGroup group(static_cast<int>(fn.ranks()),
                         std::chrono::seconds(10));
  std::vector<std::thread> ranks;
  for (int r = 0; r < fn.ranks(); ++r)
    ranks.emplace_back([&, r] {
      auto comm = group.communicator(r);
      rose::cpu::CpuBackend backend;
      auto executor = rose::Executor::create(fn, weights, backend, *comm);
      rose::Status s =
          executor ? (*executor)->run(tokens.data(), 1, 2) : executor.status();
      if (!s.ok())
        comm->abort(s.message());
    });
  for (std::thread &t : ranks)
    t.join();
  return 0;
}
