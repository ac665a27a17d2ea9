//===- Reshard.h - one routine from any layout to any other -----*- C++ -*-===//
#ifndef ROSE_PASSES_RESHARD_H
#define ROSE_PASSES_RESHARD_H

#include "passes/Sharding.h"

#include "mlir/IR/Builders.h"

#include <map>

namespace mlir::rose {

/// A value of the per-rank function and its layout.
struct LocalValue {
  Value value;
  ShardingAttr layout;
  /// For a partial value: the op whose split reduction left it partial, and
  /// why ("row-parallel matmul leaves partial sums"); its all_reduce or
  /// reduce_scatter is reported for that op.
  Operation *partialProducer = nullptr;
  std::string partialWhy;
};

/// Inserts the collectives that turn a value's layout into another, each
/// with a remark naming the layer it serves, the reason and the bytes per
/// rank. Results are cached per (value, layout): two users that need the
/// same layout share one collective.
class Resharder {
public:
  Resharder(OpBuilder &b, const Mesh &mesh) : b(b), mesh(mesh) {}
  void setInsertionPoint(Operation *op) { b.setInsertionPoint(op); }

  /// `orig` (a value of the dense function, held as `from`) in layout `want`,
  /// for `user`.
  FailureOr<Value> reshard(Value orig, const LocalValue &from,
                           ShardingAttr want, llvm::StringRef why,
                           Operation *user);

private:
  FailureOr<Value> convert(Value orig, Value v, ShardingAttr from,
                           ShardingAttr to, llvm::StringRef why,
                           Operation *user);
  void remark(Operation *collective, llvm::StringRef what,
              llvm::StringRef layer, llvm::StringRef why);

  OpBuilder &b;
  const Mesh &mesh;
  std::map<std::pair<const void *, const void *>, Value> cache;
};

} // namespace mlir::rose

#endif // ROSE_PASSES_RESHARD_H
