//===- Reshard.cpp - one routine from any layout to any other -------------===//
//
// partial -> replicated: all_reduce; partial -> split: reduce_scatter;
// replicated -> split: shard_slice (local, no communication); split ->
// replicated: all_gather (and a slice dropping the padding of an uneven
// split); split on one dim -> split on another: all_to_all, or all_gather
// then shard_slice where a split is padded. Values split in interleaved
// groups only move as they are.
//
//===----------------------------------------------------------------------===//
#include "passes/Reshard.h"
#include "passes/ShardingPlan.h"

using namespace mlir;
using namespace mlir::rose;

void Resharder::remark(Operation *collective, llvm::StringRef what,
                       llvm::StringRef layer, llvm::StringRef why) {
  collective->emitRemark() << "rose-shard-partition: inserted " << what
                           << " for '" << layer << "' (" << why << "): "
                           << bytesPerRank(collective->getResult(0).getType());
}

FailureOr<Value> Resharder::reshard(Value orig, const LocalValue &from,
                                    ShardingAttr want, llvm::StringRef why,
                                    Operation *user) {
  if (from.layout == want || mesh.size == 1)
    return from.value;
  auto key =
      std::make_pair(orig.getAsOpaquePointer(), want.getAsOpaquePointer());
  if (Value cached = cache[key])
    return cached;
  Value v = from.value;
  ShardingAttr layout = from.layout;
  if (layout.isPartial()) {
    // Partial sums are reduced for the op that left them.
    Operation *producer = from.partialProducer ? from.partialProducer : user;
    std::string layer = layerName(producer);
    Location loc = NameLoc::get(b.getStringAttr(layer), user->getLoc());
    llvm::StringRef reason =
        from.partialWhy.empty() ? why : llvm::StringRef(from.partialWhy);
    if (want.isSplit() && want.getGroups() == 1) {
      auto op = b.create<ReduceScatterOp>(loc, v, ReductionKind::Sum, mesh.axis,
                                          mesh.size, want.getDim());
      remark(op, "reduce_scatter", layer, reason);
      return cache[key] = op.getResult();
    }
    auto op =
        b.create<AllReduceOp>(loc, v, ReductionKind::Sum, mesh.axis, mesh.size);
    remark(op, "all_reduce", layer, reason);
    v = op.getResult();
    layout = ShardingAttr::getReplicated(b.getContext(), mesh.axis);
  }
  FailureOr<Value> out = convert(orig, v, layout, want, why, user);
  if (succeeded(out))
    cache[key] = *out;
  return out;
}

FailureOr<Value> Resharder::convert(Value orig, Value v, ShardingAttr from,
                                    ShardingAttr to, llvm::StringRef why,
                                    Operation *user) {
  if (from == to)
    return v;
  std::string layer = layerName(user);
  Location loc = NameLoc::get(b.getStringAttr(layer), user->getLoc());
  if (to.isPartial())
    return user->emitOpError() << "cannot make a " << from
                               << " value partial for '" << layer << "'";
  if (from.isSplit() && from.getGroups() != 1)
    return user->emitOpError()
           << "cannot re-layout a value split in " << from.getGroups()
           << " interleaved groups (a head-split fused QKV) for '" << layer
           << "'";
  if (from.isReplicated()) {
    if (to.getGroups() != 1)
      return user->emitOpError()
             << "cannot slice a replicated value into " << to.getGroups()
             << " interleaved groups for '" << layer << "'";
    auto op = b.create<ShardSliceOp>(loc, v, mesh.axis, mesh.size, to.getDim());
    remark(op, "shard_slice (local, no communication)", layer, why);
    return op.getResult();
  }
  int64_t dim = from.getDim();
  // Split on one dim -> split on another: all_to_all sends (N - 1) / N of
  // the local chunk where gather + slice would receive N - 1 chunks. It
  // needs an even split on both dims (a padded split gathers instead).
  auto type = cast<RankedTensorType>(v.getType());
  if (to.isSplit() && to.getGroups() == 1 && to.getDim() != dim) {
    int64_t full = cast<RankedTensorType>(orig.getType()).getDimSize(dim);
    int64_t local = type.getDimSize(dim), target = type.getDimSize(to.getDim());
    bool unpadded =
        ShapedType::isDynamic(full) ||
        (!ShapedType::isDynamic(local) && local * mesh.size == full);
    bool divides = ShapedType::isDynamic(target) || target % mesh.size == 0;
    if (unpadded && divides) {
      auto op =
          b.create<AllToAllOp>(loc, v, mesh.axis, mesh.size, to.getDim(), dim);
      remark(op, "all_to_all", layer, why);
      return op.getResult();
    }
  }
  // Split: gather, drop the padding of an uneven split, then go on from
  // replicated.
  auto gather = b.create<AllGatherOp>(loc, v, mesh.axis, mesh.size, dim);
  remark(gather, "all_gather", layer, why);
  Value whole = gather.getResult();
  int64_t full = cast<RankedTensorType>(orig.getType()).getDimSize(dim);
  int64_t gathered = cast<RankedTensorType>(whole.getType()).getDimSize(dim);
  if (!ShapedType::isDynamic(full) && gathered != full)
    whole = b.create<SliceOp>(loc, whole, dim, 0, full);
  return convert(orig, whole,
                 ShardingAttr::getReplicated(b.getContext(), mesh.axis), to,
                 why, user);
}
