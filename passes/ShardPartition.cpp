//===- ShardPartition.cpp - the per-rank SPMD function --------------------===//
//
// Rewrites each propagated function into the function every rank runs. For
// each op, the recorded result layout gives the factor the mesh axis splits
// (Sharding.h); the rule then says which layout every operand needs. Values
// in another layout go through one reshard routine (Reshard.cpp); params are
// never moved: a split param is loaded pre-sliced (#rose.slice). The op is
// rebuilt on local operands, its attributes localized by its own interface
// method, and its result types re-inferred.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"
#include "passes/Reshard.h"
#include "passes/ShardingPlan.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

#include <map>

namespace mlir::rose {
#define GEN_PASS_DEF_ROSESHARDPARTITION
#include "passes/Passes.h.inc"
} // namespace mlir::rose

using namespace mlir;
using namespace mlir::rose;

namespace {

class Partitioner {
public:
  Partitioner(func::FuncOp fn, const Mesh &mesh)
      : fn(fn), mesh(mesh), b(fn.getContext()), resharder(b, mesh) {}
  LogicalResult run();

private:
  LogicalResult visit(Operation *op);
  LogicalResult visitReturn(func::ReturnOp op);
  FailureOr<Value> param(ParamOp orig, ShardingAttr layout, Operation *user);
  FailureOr<Value> operand(Operation *user, unsigned index, ShardingAttr want,
                           llvm::StringRef why);

  func::FuncOp fn;
  const Mesh &mesh;
  OpBuilder b;
  Resharder resharder;
  llvm::DenseMap<Value, LocalValue> mapped;
  std::map<std::tuple<Operation *, int64_t, int64_t>, Value> params;
};

} // namespace

FailureOr<Value> Partitioner::param(ParamOp orig, ShardingAttr layout,
                                    Operation *user) {
  if (layout.isPartial())
    return user->emitOpError() << "a param cannot be partial";
  bool split = layout.isSplit() && mesh.size > 1;
  // Weight slices (and the vocab offsets of a masked lookup) are taken on
  // the tp axis: the program file records no other.
  if (split && mesh.axis != "tp")
    return user->emitOpError()
           << "rose-shard-partition: param '" << orig.getName()
           << "' would be split over '" << mesh.axis
           << "'; only the 'tp' axis splits params";
  auto key = std::make_tuple(orig.getOperation(), split ? layout.getDim() : -1,
                             split ? layout.getGroups() : 1);
  if (Value cached = params[key])
    return cached;
  RankedTensorType full = orig.getType();
  Type type = full;
  // Unsplit, the param stays as it is (with the slice an earlier axis's
  // partition gave it).
  WeightSliceAttr slice = orig.getSliceAttr();
  if (split && slice)
    return user->emitOpError()
           << "rose-shard-partition: param '" << orig.getName()
           << "' is already sliced; it cannot be split again over '"
           << mesh.axis << "'";
  // A param repeated for kv-head replication: each rank takes one block.
  if (std::optional<ArrayRef<int64_t>> repeat = orig.getRepeat()) {
    int64_t dim = (*repeat)[0], blocks = (*repeat)[1], times = (*repeat)[2];
    if (!split || layout.getDim() != dim || layout.getGroups() != 1 ||
        mesh.size != blocks * times)
      return user->emitOpError()
             << "rose-shard-partition: param '" << orig.getName()
             << "' repeats " << blocks << " blocks " << times
             << " times in dim " << dim
             << "; it must be split in that dim into " << blocks * times
             << " parts over " << mesh.axis;
    SmallVector<int64_t> checkpoint(full.getShape()), local(full.getShape());
    checkpoint[dim] /= times;
    local[dim] = checkpoint[dim] / blocks;
    type = RankedTensorType::get(local, full.getElementType());
    slice =
        WeightSliceAttr::get(b.getContext(), dim, blocks, 1, checkpoint, times);
    split = false; // done
  }
  if (split) {
    int64_t dim = layout.getDim(), groups = layout.getGroups();
    int64_t size = full.getDimSize(dim);
    if (groups > 1 && size % (mesh.size * groups) != 0)
      return user->emitOpError()
             << "cannot split param '" << orig.getName() << "' dim " << dim
             << " of size " << size << " into " << groups << " groups over "
             << mesh.axis << "=" << mesh.size;
    SmallVector<int64_t> local(full.getShape());
    // Padded chunks: the loader fills rows past the end with zeros.
    local[dim] = localSize(size, mesh.size);
    type = RankedTensorType::get(local, full.getElementType());
    slice = WeightSliceAttr::get(b.getContext(), dim, mesh.size, groups,
                                 full.getShape(), 1);
  }
  // Params go to the top of the function: one may serve later ops too.
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&fn.getBody().front());
  Value value = b.create<ParamOp>(orig.getLoc(), type, orig.getName(), slice,
                                  DenseI64ArrayAttr());
  params[key] = value;
  return value;
}

FailureOr<Value> Partitioner::operand(Operation *user, unsigned index,
                                      ShardingAttr want, llvm::StringRef why) {
  Value orig = user->getOperand(index);
  if (auto p = orig.getDefiningOp<ParamOp>())
    return param(p, want, user);
  auto it = mapped.find(orig);
  if (it == mapped.end())
    return user->emitOpError() << "operand #" << index << " has no layout";
  return resharder.reshard(orig, it->second, want, why, user);
}

static void dropShardingAttrs(Operation *op) {
  for (llvm::StringRef name :
       {RoseDialect::kShardingAttrName, RoseDialect::kShardingOutAttrName,
        RoseDialect::kShardingOriginAttrName,
        RoseDialect::kShardingPriorityAttrName,
        RoseDialect::kShardingPadAttrName})
    op->removeAttr(name);
}

/// Re-infers the result types of a rebuilt op from its local operands.
static void inferLocalTypes(Operation *op) {
  auto infer = dyn_cast<InferTypeOpInterface>(op);
  if (!infer)
    return;
  SmallVector<Type> types;
  if (succeeded(infer.inferReturnTypes(
          op->getContext(), op->getLoc(), op->getOperands(),
          op->getAttrDictionary(), op->getPropertiesStorage(), op->getRegions(),
          types)))
    for (auto [result, type] : llvm::zip(op->getResults(), types))
      result.setType(type);
}

LogicalResult Partitioner::visit(Operation *op) {
  if (isa<ParamOp>(op))
    return success();
  if (isa<ConstantOp>(op)) {
    b.setInsertionPoint(op);
    Operation *clone = b.clone(*op);
    dropShardingAttrs(clone);
    mapped[op->getResult(0)] = {
        clone->getResult(0),
        ShardingAttr::getReplicated(b.getContext(), mesh.axis), nullptr, ""};
    return success();
  }
  if (auto ret = dyn_cast<func::ReturnOp>(op))
    return visitReturn(ret);
  std::optional<SmallVector<ShardingAttr>> recorded = recordedLayouts(op);
  if (!recorded)
    return op->emitOpError() << "rose-shard-partition: no recorded sharding "
                                "(run --rose-shard-propagate first)";
  auto iface = dyn_cast<ShardingRuleOpInterface>(op);
  std::optional<ShardingRule> rule;
  FactorChoice choice;
  if (iface) {
    rule = iface.getShardingRule();
    bool allPartial = op->getNumOperands() > 0;
    for (Value v : op->getOperands()) {
      auto it = mapped.find(v);
      allPartial &= it != mapped.end() && it->second.layout.isPartial();
    }
    FailureOr<FactorChoice> derived =
        choiceFor(*rule, (*recorded)[0], allPartial);
    if (failed(derived))
      return op->emitOpError()
             << "rose-shard-partition: recorded sharding " << (*recorded)[0]
             << " is not a layout this op can produce";
    choice = *derived;
  }
  SmallVector<Value> operands;
  for (unsigned i = 0; i < op->getNumOperands(); ++i) {
    ShardingAttr want =
        rule ? layoutUnder(b.getContext(), *rule, rule->operands[i], choice,
                           mesh.axis, /*isResult=*/false)
             : ShardingAttr::getReplicated(b.getContext(), mesh.axis);
    std::string why =
        "'" + op->getName().getStringRef().str() + "' needs operand #" +
        std::to_string(i) + " " +
        (want.isSplit() ? "split on dim " + std::to_string(want.getDim())
                        : std::string("whole"));
    FailureOr<Value> v = operand(op, i, want, why);
    if (failed(v))
      return failure();
    operands.push_back(*v);
  }
  // The clone still has the dense operands, so the rule it sees while it
  // localizes its attributes is the one the choice was made on.
  b.setInsertionPoint(op);
  Operation *local = b.clone(*op);
  dropShardingAttrs(local);
  if (rule && choice.factor >= 0) {
    SmallVector<int64_t> shards(rule->factors.size(), 1);
    shards[choice.factor] = mesh.size;
    if (failed(cast<ShardingRuleOpInterface>(local).localizeAttributes(shards)))
      return failure();
  }
  local->setOperands(operands);
  inferLocalTypes(local);
  std::string partialWhy;
  if (choice.factor >= 0)
    partialWhy = rule->factors[choice.factor].name + " leaves partial sums";
  for (auto [i, result] : llvm::enumerate(op->getResults())) {
    LocalValue value{local->getResult(i), (*recorded)[i], op, partialWhy};
    if (choice.partialPassThrough) {
      value.partialProducer = mapped[op->getOperand(0)].partialProducer;
      value.partialWhy = mapped[op->getOperand(0)].partialWhy;
    }
    ShardingAttr users = usersLayout(op, i);
    if (users != value.layout) {
      FailureOr<Value> handed = resharder.reshard(
          result, value, users, "the plan hands users this layout", op);
      if (failed(handed))
        return failure();
      value = {*handed, users, op, ""};
    }
    mapped[result] = value;
  }
  return success();
}

LogicalResult Partitioner::visitReturn(func::ReturnOp op) {
  SmallVector<Value> results;
  for (auto [i, v] : llvm::enumerate(op.getOperands())) {
    ShardingAttr want =
        mesh.own(fn.getResultAttr(i, RoseDialect::kShardingAttrName));
    if (!want)
      want = ShardingAttr::getReplicated(b.getContext(), mesh.axis);
    auto it = mapped.find(v);
    if (it == mapped.end())
      return op.emitOpError() << "result #" << i << " has no layout";
    // Collectives here serve the op that produced the result.
    Operation *producer = v.getDefiningOp() ? v.getDefiningOp() : op;
    FailureOr<Value> out = resharder.reshard(
        v, it->second, want, "the caller needs whole results", producer);
    if (failed(out))
      return failure();
    results.push_back(*out);
  }
  b.setInsertionPoint(op);
  b.create<func::ReturnOp>(op.getLoc(), results);
  fn.setType(b.getFunctionType(fn.getBody().getArgumentTypes(),
                               ValueRange(results).getTypes()));
  return success();
}

LogicalResult Partitioner::run() {
  Block &body = fn.getBody().front();
  for (BlockArgument arg : body.getArguments()) {
    ShardingAttr layout = mesh.own(
        fn.getArgAttr(arg.getArgNumber(), RoseDialect::kShardingAttrName));
    if (!layout)
      layout = ShardingAttr::getReplicated(b.getContext(), mesh.axis);
    if (layout.isPartial() || layout.getGroups() != 1)
      return fn.emitError() << "rose-shard-partition: argument #"
                            << arg.getArgNumber() << " cannot be " << layout;
    if (layout.isSplit()) {
      // The caller passes each rank its chunk (the runtime splits the
      // batch over dp).
      auto type = cast<RankedTensorType>(arg.getType());
      int64_t size = type.getDimSize(layout.getDim());
      if (!ShapedType::isDynamic(size) && size % mesh.size != 0)
        return fn.emitError()
               << "rose-shard-partition: argument #" << arg.getArgNumber()
               << " dim " << layout.getDim() << " of size " << size
               << " is not divisible by " << mesh.axis << "=" << mesh.size;
      SmallVector<int64_t> local(type.getShape());
      local[layout.getDim()] = localSize(size, mesh.size);
      arg.setType(RankedTensorType::get(local, type.getElementType()));
    }
    mapped[arg] = {arg, layout, nullptr, ""};
  }
  SmallVector<Operation *> original = llvm::map_to_vector(
      body.getOperations(), [](Operation &op) { return &op; });
  for (Operation *op : original) {
    resharder.setInsertionPoint(op);
    if (failed(visit(op)))
      return failure();
  }
  for (Operation *op : llvm::reverse(original))
    op->erase();
  StringAttr name =
      StringAttr::get(fn.getContext(), RoseDialect::kShardingAttrName);
  for (unsigned i = 0; i < fn.getNumArguments(); ++i)
    if (mesh.own(fn.getArgAttr(i, name)))
      fn.removeArgAttr(i, name);
  for (unsigned i = 0; i < fn.getNumResults(); ++i)
    if (mesh.own(fn.getResultAttr(i, name)))
      fn.removeResultAttr(i, name);
  return success();
}

namespace {
struct RoseShardPartitionPass
    : public mlir::rose::impl::RoseShardPartitionBase<RoseShardPartitionPass> {
  using RoseShardPartitionBase::RoseShardPartitionBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    FailureOr<Mesh> mesh = Mesh::of(module, "rose-shard-partition", axis);
    if (failed(mesh))
      return signalPassFailure();
    for (auto fn : module.getOps<func::FuncOp>()) {
      if (fn.isExternal())
        continue;
      Partitioner partitioner(fn, *mesh);
      if (failed(partitioner.run()))
        return signalPassFailure();
    }
    if (mesh->axis == "tp")
      module->setAttr(
          RoseDialect::kTPAttrName,
          IntegerAttr::get(IntegerType::get(&getContext(), 64), mesh->size));
  }
};
} // namespace
