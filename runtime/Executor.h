//===- Executor.h - runs one rank of a program on the CPU -------*- C++ -*-===//
#ifndef ROSE_RUNTIME_EXECUTOR_H
#define ROSE_RUNTIME_EXECUTOR_H

#include "runtime/Communicator.h"
#include "runtime/Program.h"
#include "runtime/Weights.h"

#include <memory>
#include <string>
#include <vector>

namespace rose {

/// One op's time on one rank, for --profile.
struct OpEvent {
  std::string name;  // op kind
  std::string layer; // "h.0.attn.c_proj"
  bool collective = false;
  double startUs = 0, durationUs = 0;
};

/// Executes one rank's function: values live in one arena laid out by the
/// program's memory plan (scaled by the token count).
class Executor {
public:
  Executor(const fb::Function &fn, const RankWeights &weights,
           Communicator &comm);

  /// With `checkpoints`, copies each checkpoint value (program order) as it
  /// is produced: the memory plan reuses its buffer afterwards.
  Status run(const int64_t *tokens, int64_t batch, int64_t seq,
             std::vector<OpEvent> *trace = nullptr,
             std::vector<std::pair<std::string, std::vector<float>>>
                 *checkpoints = nullptr);

  const float *floatData(int32_t value) const;
  std::vector<int64_t> shapeOf(int32_t value) const;

private:
  Status runOp(const fb::Op &op);
  const float *operand(const fb::Operand *o) const;
  std::vector<int64_t> operandShape(const fb::Operand *o) const;
  uint8_t *data(int32_t value) const;

  const fb::Function &fn;
  const RankWeights &weights;
  Communicator &comm;
  int64_t batch = 0, seq = 0;
  std::unique_ptr<uint8_t, void (*)(void *)> arena{nullptr, free};
  size_t arenaBytes = 0;
  std::vector<float> scratch;
};

} // namespace rose

#endif // ROSE_RUNTIME_EXECUTOR_H
