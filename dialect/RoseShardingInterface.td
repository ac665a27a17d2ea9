//===- RoseShardingInterface.td - per-op sharding rules ----*- tablegen -*-===//
#ifndef ROSE_DIALECT_ROSESHARDINGINTERFACE_TD
#define ROSE_DIALECT_ROSESHARDINGINTERFACE_TD

include "mlir/IR/OpBase.td"

def Rose_ShardingRuleOpInterface : OpInterface<"ShardingRuleOpInterface"> {
  let cppNamespace = "::mlir::rose";
  let description = [{
    An op declares how it may be split: its factors (ShardingRule.h) and how
    its attributes change on a rank that holds a shard. The sharding passes
    (`--rose-shard-propagate`, `--rose-shard-partition`) read only this
    interface; an op without it stays replicated, with a remark.
  }];
  let methods = [
    InterfaceMethod<
      "The op's factors and the factor of every operand and result dim.",
      "::mlir::rose::ShardingRule", "getShardingRule", (ins)>,
    InterfaceMethod<[{
        Rewrites the attributes of this op, a per-rank clone, for factors
        split in `shards[f]` pieces (1 when whole). Attributes that count
        elements of a split dim (heads, split sizes, reshape sizes) shrink;
        most ops have none.
      }],
      "::mlir::LogicalResult", "localizeAttributes",
      (ins "::llvm::ArrayRef<int64_t>":$shards), [{}],
      [{ return ::mlir::success(); }]>,
  ];
}

#endif // ROSE_DIALECT_ROSESHARDINGINTERFACE_TD
