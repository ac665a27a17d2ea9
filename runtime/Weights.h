//===- Weights.h - a rank's params, sliced from the checkpoint --*- C++ -*-===//
#ifndef ROSE_RUNTIME_WEIGHTS_H
#define ROSE_RUNTIME_WEIGHTS_H

#include "runtime/Program.h"
#include "runtime/WeightFiles.h"

#include <functional>
#include <vector>

namespace rose {

/// The float32 params of one rank: views into the mapped checkpoint where the
/// param is whole and stored as F32, or owned copies of the rank's slice
/// (#rose.slice rules: interleaved groups, zero padding past the end),
/// converted from F16 or BF16 as the rows are read.
class RankWeights {
public:
  /// Loads the params `entry` uses (others stay null). `progress(bytes)` is
  /// called as params load (for a progress line).
  static StatusOr<RankWeights>
  load(const Entry &entry, const WeightFiles &files, int rank,
       const std::function<void(size_t)> &progress = nullptr);

  /// All-zero params of the program's shapes (fuzzing executes untrusted
  /// programs without a checkpoint).
  static RankWeights zeros(const Entry &entry);

  const float *param(size_t index) const { return pointers_[index]; }

private:
  std::vector<const float *> pointers_;
  std::vector<std::vector<float>> owned_;
};

} // namespace rose

#endif // ROSE_RUNTIME_WEIGHTS_H
