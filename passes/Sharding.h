//===- Sharding.h - what propagation and partition share --------*- C++ -*-===//
//
// A value's layout over the mesh axis is a #rose.shard (replicated, split on
// a dim in G interleaved groups, or partial). An op's choice is which of its
// rule's factors the axis splits; everything else follows from the rule.
// Propagation picks the choice and records result layouts on the op;
// partition derives the same choice from them and builds the per-rank op.
//
//===----------------------------------------------------------------------===//
#ifndef ROSE_PASSES_SHARDING_H
#define ROSE_PASSES_SHARDING_H

#include "dialect/RoseOps.h"

#include "mlir/IR/BuiltinOps.h"

#include <limits>
#include <optional>
#include <string>

namespace mlir::rose {

/// The mesh axis a propagation or partition runs over. A 2-D mesh is sharded
/// one axis at a time (tp, then dp): annotations and argument layouts of
/// other axes are left for their own run.
struct Mesh {
  std::string axis = "tp";
  int64_t size = 1;
  /// Reads `axis` of the module's rose.mesh; emits an error naming `pass` if
  /// there is no mesh or no such axis.
  static FailureOr<Mesh> of(ModuleOp module, llvm::StringRef pass,
                            llvm::StringRef axis);
  /// `attr` if it is a layout over this axis, else null.
  ShardingAttr own(Attribute attr) const;
};

/// Priority of a layout nobody asked for (weaker than every annotation).
constexpr int64_t kUnannotated = std::numeric_limits<int64_t>::max();

/// A value's layout and where it came from.
struct ValueLayout {
  ShardingAttr layout;
  /// "'h.0.mlp.c_fc' (plan: colwise)": the annotation this layout follows.
  std::string origin;
  int64_t priority = kUnannotated;
};

/// Which factor the mesh axis splits at an op.
struct FactorChoice {
  int64_t factor = -1; // -1: none (everything replicated)
  /// Groups of the split, for dims whose rule leaves them to the choice.
  int64_t groups = 1;
  /// Every operand is partial and the op is linear: results stay partial.
  bool partialPassThrough = false;
};

/// The layout a dim list (of an operand or result) has under `choice`.
ShardingAttr layoutUnder(MLIRContext *context, const ShardingRule &rule,
                         ArrayRef<DimFactor> dims, FactorChoice choice,
                         llvm::StringRef axis, bool isResult);

/// The layout a partial value settles into when an op cannot take partial
/// sums: split on the sequence dim with sequence parallelism (when the value
/// has one, rank > sequenceDim + 1), else replicated.
ShardingAttr settledLayout(Value value, int64_t sequenceDim,
                           llvm::StringRef axis);

/// The choice that gives `result0` (the recorded layout of result 0), or
/// failure when the rule cannot produce it.
FailureOr<FactorChoice> choiceFor(const ShardingRule &rule,
                                  ShardingAttr result0,
                                  bool allOperandsPartial);

/// The recorded layout of each result of `op` (rose.sharding), or nullopt.
std::optional<SmallVector<ShardingAttr>> recordedLayouts(Operation *op);

/// The layout `op`'s users see: rose.sharding_out when a plan asked for one.
ShardingAttr usersLayout(Operation *op, unsigned result);

/// Size of the split dim of `type` on `size` ranks (ceil: padded).
int64_t localSize(int64_t full, int64_t parts);

/// "3072 bytes per rank per token (x batch x seq)" for a collective result.
std::string bytesPerRank(Type type);

} // namespace mlir::rose

#endif // ROSE_PASSES_SHARDING_H
