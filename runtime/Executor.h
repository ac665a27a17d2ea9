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

/// A value kept for --check-against: its name, this rank's shape, data.
struct Checkpoint {
  std::string name;
  Shape shape;
  std::vector<float> data;
};

/// Executes one rank's entry: each call binds the symbols from its token
/// ids, lays out the arena (Program.h: CallLayout; cached while batch and
/// seq stay the same) and runs the ops in order.
class Executor {
public:
  Executor(const Entry &entry, const RankWeights &weights, Communicator &comm);

  /// With `checkpoints`, copies each checkpoint value (program order) as it
  /// is produced: the memory plan reuses its buffer afterwards.
  Status run(const int64_t *tokens, int64_t batch, int64_t seq,
             std::vector<OpEvent> *trace = nullptr,
             std::vector<Checkpoint> *checkpoints = nullptr);

  /// Takes a layout already made for batch x seq (the runner checks the
  /// call before the ranks start), so run() does not lay it out again.
  void useLayout(CallLayout laid, int64_t b, int64_t s) {
    layout = std::move(laid);
    batch = b;
    seq = s;
  }

  const float *floatData(int32_t value) const;
  const Shape &shapeOf(int32_t value) const { return layout.shapes[value]; }

private:
  Status runOp(const fb::Op &op);
  const float *operand(const fb::Operand *o) const;
  const Shape &operandShape(const fb::Operand *o) const;
  uint8_t *data(int32_t value) const;

  Entry entry;
  const RankWeights &weights;
  Communicator &comm;
  std::vector<Shape> params;
  CallLayout layout;
  int64_t batch = 0, seq = 0;
  std::unique_ptr<uint8_t, void (*)(void *)> arena{nullptr, free};
  size_t arenaBytes = 0;
  std::vector<float> scratch;
};

} // namespace rose

#endif // ROSE_RUNTIME_EXECUTOR_H
