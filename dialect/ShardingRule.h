//===- ShardingRule.h - how an op's dims may be split -----------*- C++ -*-===//
//
// A sharding rule in the spirit of Shardy's OpShardingRule: an op's iteration
// space is a list of factors, and every operand and result dim is either one
// factor or none (a broadcast or a dim the rule keeps whole). Splitting a
// factor over a mesh axis splits every dim mapped to it; a split reduction
// factor leaves the results partial. Propagation and partition read only
// rules, never op names (docs/sharding.md).
//
//===----------------------------------------------------------------------===//
#ifndef ROSE_DIALECT_SHARDINGRULE_H
#define ROSE_DIALECT_SHARDINGRULE_H

#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/SmallVector.h"

#include <string>

namespace mlir::rose {

enum class FactorKind {
  /// Appears in the results: a split passes through the op.
  Parallel,
  /// Summed over (a matmul's k, an embedding's vocab rows): a split leaves
  /// every result partial.
  Reduction,
};
// A dim that must stay whole on every rank (a normalised axis, a softmax
// axis, the sequence of causal attention) has no factor: operands split on
// it are gathered first.

struct Factor {
  FactorKind kind = FactorKind::Parallel;
  /// What a split must divide: the dim size, or the number of heads when the
  /// dim packs heads. ShapedType::kDynamic: checked at run time.
  int64_t units = ShapedType::kDynamic;
  /// For messages: "heads", "output features", "k", ...
  std::string name;
  /// The dim may be split unevenly (the last chunk padded with zeros) when a
  /// plan asks for it: vocab rows and the LM head's vocab columns.
  bool paddable = false;
};

/// One dim of an operand or result.
struct DimFactor {
  /// Index into ShardingRule::factors, or -1: never split (size-1 broadcast
  /// dims, or the op needs the whole dim for a reason the factor cannot say).
  int64_t factor = -1;
  /// > 0: the dim is split in this many interleaved groups when its factor is
  /// split (a fused QKV matmul output feeding a 3-way split). 0: the groups
  /// of the value the factor was chosen from.
  int64_t groups = 0;
};

struct ShardingRule {
  llvm::SmallVector<Factor> factors;
  llvm::SmallVector<llvm::SmallVector<DimFactor>> operands, results;
  /// When every operand is partial, the results are partial too (add, sub).
  bool linear = false;
  /// Operand added after a split reduction is summed (a matmul's bias): it is
  /// applied once, to the reduced value.
  int64_t addedAfterReduction = -1;

  int64_t addFactor(FactorKind kind, int64_t units, llvm::StringRef name,
                    bool paddable = false) {
    factors.push_back({kind, units, name.str(), paddable});
    return factors.size() - 1;
  }
  /// The dim of `dims` mapped to factor f, or -1.
  static int64_t dimOf(llvm::ArrayRef<DimFactor> dims, int64_t f) {
    for (auto [d, df] : llvm::enumerate(dims))
      if (df.factor == f)
        return d;
    return -1;
  }
};

/// Elementwise rule with numpy broadcasting over `operandTypes` into a result
/// of `resultType`: each result dim is a parallel factor; an operand dim of
/// static size 1 under a larger result dim is a broadcast (no factor).
ShardingRule elementwiseRule(TypeRange operandTypes, Type resultType);

} // namespace mlir::rose

#endif // ROSE_DIALECT_SHARDINGRULE_H
