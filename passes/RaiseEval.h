//===- RaiseEval.h - evaluating shape-only subgraphs ------------*- C++ -*-===//
//
// --rose-raise proves facts about values that depend only on shapes and
// constants (a scale, a GELU coefficient, an attention mask) by computing
// them: the subgraph is evaluated in double for a given sequence length.
// Only ops whose element (i, j) does not depend on the sequence length are
// evaluated (constants, iota, fill, trilu, gathers, elementwise and layout
// ops), so a mask's values at one length are the top-left block of its
// values at any longer one.
//
//===----------------------------------------------------------------------===//
#ifndef ROSE_PASSES_RAISEEVAL_H
#define ROSE_PASSES_RAISEEVAL_H

#include "mlir/IR/Value.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallVector.h"

#include <optional>
#include <vector>

namespace mlir::rose {

/// A dense tensor of doubles, row-major.
struct EvalArray {
  llvm::SmallVector<int64_t> shape;
  std::vector<double> data;
};

class ShapeEvaluator {
public:
  /// Function arguments' dynamic dims evaluate as batch = 1 (dim 0) and
  /// `seq` (any other dim).
  explicit ShapeEvaluator(int64_t seq) : seq(seq) {}
  /// The value's contents, or nullopt when it depends on data (or on an op
  /// the evaluator does not know, or an index falls outside a gather).
  std::optional<EvalArray> evaluate(Value v);

private:
  std::optional<EvalArray> compute(Value v);
  int64_t seq;
  llvm::DenseMap<Value, std::optional<EvalArray>> memo;
};

/// The value as a scalar (a rank-0 or one-element constant expression, or
/// a splat), if it is one.
std::optional<double> constantScalar(Value v);

} // namespace mlir::rose

#endif // ROSE_PASSES_RAISEEVAL_H
