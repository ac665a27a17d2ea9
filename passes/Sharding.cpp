//===- Sharding.cpp - layouts, choices and the mesh -----------------------===//
#include "passes/Sharding.h"
#include "runtime/CheckedMath.h"

using namespace mlir;
using namespace mlir::rose;

FailureOr<Mesh> Mesh::of(ModuleOp module, llvm::StringRef pass,
                         llvm::StringRef axis) {
  MeshOp op = MeshOp::find(module);
  if (!op) {
    module.emitError() << pass
                       << ": the module has no rose.mesh (--rose-tp-shard "
                          "seeds one: rose.mesh @mesh(tp = N))";
    return failure();
  }
  std::optional<int64_t> size = op.sizeOf(axis);
  if (!size) {
    op.emitError() << pass << ": mesh @" << op.getSymName() << " has no axis '"
                   << axis << "'";
    return failure();
  }
  Mesh mesh;
  mesh.axis = axis.str();
  mesh.size = *size;
  return mesh;
}

ShardingAttr Mesh::own(Attribute attr) const {
  auto layout = dyn_cast_or_null<ShardingAttr>(attr);
  return layout && layout.getAxis() == axis ? layout : ShardingAttr();
}

ShardingAttr mlir::rose::layoutUnder(MLIRContext *context,
                                     const ShardingRule &rule,
                                     ArrayRef<DimFactor> dims,
                                     FactorChoice choice, llvm::StringRef axis,
                                     bool isResult) {
  if (choice.partialPassThrough)
    return ShardingAttr::getPartial(context, axis);
  if (choice.factor < 0)
    return ShardingAttr::getReplicated(context, axis);
  int64_t d = ShardingRule::dimOf(dims, choice.factor);
  if (d >= 0)
    return ShardingAttr::getSplit(
        context, d, axis, dims[d].groups > 0 ? dims[d].groups : choice.groups);
  if (isResult && rule.factors[choice.factor].kind == FactorKind::Reduction)
    return ShardingAttr::getPartial(context, axis);
  return ShardingAttr::getReplicated(context, axis);
}

ShardingAttr mlir::rose::settledLayout(Value value, int64_t sequenceDim,
                                       llvm::StringRef axis) {
  int64_t rank = cast<RankedTensorType>(value.getType()).getRank();
  if (sequenceDim >= 0 && rank > sequenceDim + 1)
    return ShardingAttr::getSplit(value.getContext(), sequenceDim, axis);
  return ShardingAttr::getReplicated(value.getContext(), axis);
}

FailureOr<FactorChoice> mlir::rose::choiceFor(const ShardingRule &rule,
                                              ShardingAttr result0,
                                              bool allOperandsPartial) {
  FactorChoice choice;
  if (result0.isReplicated())
    return choice;
  if (result0.isPartial()) {
    if (rule.linear && allOperandsPartial) {
      choice.partialPassThrough = true;
      return choice;
    }
    for (auto [f, factor] : llvm::enumerate(rule.factors))
      if (factor.kind == FactorKind::Reduction) {
        choice.factor = f;
        return choice;
      }
    return failure();
  }
  if (rule.results.empty() ||
      result0.getDim() >= static_cast<int64_t>(rule.results[0].size()))
    return failure();
  DimFactor df = rule.results[0][result0.getDim()];
  if (df.factor < 0 || (df.groups > 0 && df.groups != result0.getGroups()))
    return failure();
  choice.factor = df.factor;
  choice.groups = df.groups > 0 ? 1 : result0.getGroups();
  return choice;
}

std::optional<SmallVector<ShardingAttr>>
mlir::rose::recordedLayouts(Operation *op) {
  Attribute attr = op->getAttr(RoseDialect::kShardingAttrName);
  if (!attr)
    return std::nullopt;
  SmallVector<ShardingAttr> out;
  if (auto one = dyn_cast<ShardingAttr>(attr)) {
    out.push_back(one);
    return out;
  }
  for (Attribute a : cast<ArrayAttr>(attr))
    out.push_back(cast<ShardingAttr>(a));
  return out;
}

ShardingAttr mlir::rose::usersLayout(Operation *op, unsigned result) {
  for (llvm::StringRef name :
       {RoseDialect::kShardingOutAttrName, RoseDialect::kShardingAttrName}) {
    Attribute attr = op->getAttr(name);
    if (auto one = dyn_cast_or_null<ShardingAttr>(attr))
      return one;
    if (auto array = dyn_cast_or_null<ArrayAttr>(attr))
      return cast<ShardingAttr>(array[result]);
  }
  return {};
}

int64_t mlir::rose::localSize(int64_t full, int64_t parts) {
  if (ShapedType::isDynamic(full))
    return full;
  return llvm::divideCeil(full, parts);
}

std::string mlir::rose::bytesPerRank(Type type) {
  auto tensor = cast<RankedTensorType>(type);
  std::optional<int64_t> bytes = tensor.getElementTypeBitWidth() / 8;
  int dynamic = 0;
  for (int64_t d : tensor.getShape()) {
    if (ShapedType::isDynamic(d))
      ++dynamic;
    else if (bytes)
      bytes = ::rose::checkedMul(*bytes, d);
  }
  std::string out =
      (bytes ? std::to_string(*bytes) : std::string("over 2^63")) +
      " bytes per rank";
  if (dynamic == 2 && tensor.getRank() >= 2 && tensor.isDynamicDim(0) &&
      tensor.isDynamicDim(1))
    return out + " per token (x batch x seq)";
  if (dynamic)
    return out + " x " + std::to_string(dynamic) + " dynamic dims";
  return out;
}
