//===- ShardPropagate.cpp - fill every value's sharding -------------------===//
//
// Walks each function in order and decides, per op, which factor of its
// sharding rule the mesh axis splits: the op's own annotation or an
// operand's layout, whichever has the strongest priority (0 is strongest;
// ties go to the annotation, then to operands in order). Partial operands
// settle first (all_reduce, or reduce_scatter onto the sequence with
// sequence parallelism) unless the op is linear in all of them. Results are
// recorded as rose.sharding with the origin and priority they follow.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"
#include "passes/Sharding.h"
#include "passes/ShardingPlan.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

namespace mlir::rose {
#define GEN_PASS_DEF_ROSESHARDPROPAGATE
#define GEN_PASS_DEF_ROSESHARDEXPLAIN
#include "passes/Passes.h.inc"
} // namespace mlir::rose

using namespace mlir;
using namespace mlir::rose;

namespace {

struct Candidate {
  FactorChoice choice;
  std::string origin;
  int64_t priority = kUnannotated;
  bool annotated = false;
};

class Propagator {
public:
  Propagator(Mesh mesh, int64_t sequenceDim)
      : mesh(std::move(mesh)), sequenceDim(sequenceDim) {}
  LogicalResult run(func::FuncOp fn);

private:
  FailureOr<Operation *> visit(Operation *op);
  FailureOr<Candidate> decide(Operation *op, const ShardingRule &rule);
  bool divides(const ShardingRule &rule, FactorChoice c) const;
  Operation *splitOffAddend(Operation *op, unsigned index);
  void record(Operation *op, ArrayRef<ShardingAttr> results,
              const Candidate &from);

  Mesh mesh;
  int64_t sequenceDim;
  llvm::DenseMap<Value, ValueLayout> layouts;
};

} // namespace

bool Propagator::divides(const ShardingRule &rule, FactorChoice c) const {
  if (c.factor < 0)
    return true;
  int64_t units = rule.factors[c.factor].units;
  return ShapedType::isDynamic(units) || units % (mesh.size * c.groups) == 0;
}

FailureOr<Candidate> Propagator::decide(Operation *op,
                                        const ShardingRule &rule) {
  SmallVector<std::optional<ValueLayout>> operands;
  bool allPartial = op->getNumOperands() > 0;
  for (Value v : op->getOperands()) {
    auto it = layouts.find(v);
    operands.push_back(it == layouts.end() ? std::nullopt
                                           : std::optional(it->second));
    allPartial &= operands.back() && operands.back()->layout.isPartial();
  }
  SmallVector<Candidate> candidates;
  std::optional<SmallVector<ShardingAttr>> annotated = recordedLayouts(op);
  if (annotated && (*annotated)[0].getAxis() != mesh.axis)
    annotated.reset(); // another axis's annotation
  if (annotated) {
    FailureOr<FactorChoice> choice =
        choiceFor(rule, (*annotated)[0], allPartial);
    if (failed(choice))
      return op->emitOpError() << "rose-shard-propagate: annotation "
                               << (*annotated)[0] << " on '" << layerName(op)
                               << "' is not a layout this op can produce";
    Candidate c{*choice, "annotation on '" + layerName(op) + "'", 0, true};
    if (auto origin =
            op->getAttrOfType<StringAttr>(RoseDialect::kShardingOriginAttrName))
      c.origin = origin.str();
    if (auto p = op->getAttrOfType<IntegerAttr>(
            RoseDialect::kShardingPriorityAttrName))
      c.priority = p.getInt();
    candidates.push_back(c);
  }
  if (rule.linear && allPartial) {
    candidates.push_back({FactorChoice{-1, 1, true}, operands[0]->origin,
                          operands[0]->priority, false});
  }
  for (auto [i, known] : llvm::enumerate(operands)) {
    if (!known)
      continue;
    ShardingAttr layout = known->layout;
    // A partial operand the op cannot sum settles first.
    if (layout.isPartial())
      layout = settledLayout(op->getOperand(i), sequenceDim, mesh.axis);
    if (!layout.isSplit() || i >= rule.operands.size())
      continue;
    DimFactor df = rule.operands[i][layout.getDim()];
    if (df.factor < 0 || (df.groups > 0 && df.groups != layout.getGroups()))
      continue;
    FactorChoice choice{df.factor, df.groups > 0 ? 1 : layout.getGroups()};
    if (divides(rule, choice))
      candidates.push_back({choice, known->origin, known->priority, false});
  }
  if (candidates.empty())
    return Candidate{};
  Candidate best = candidates.front();
  for (const Candidate &c : candidates)
    if (c.priority < best.priority)
      best = c;
  if (best.annotated && !divides(rule, best.choice)) {
    const Factor &factor = rule.factors[best.choice.factor];
    bool pad = factor.paddable && best.choice.groups == 1 &&
               op->hasAttr(RoseDialect::kShardingPadAttrName);
    if (!pad)
      return op->emitOpError()
             << "cannot split the " << factor.name << " of '" << layerName(op)
             << "' over " << mesh.axis << "=" << mesh.size << ": "
             << factor.units << " are not divisible by "
             << mesh.size * best.choice.groups;
  }
  return best;
}

/// Rewrites op(..., addend) as add(op(...), addend): an addend (a matmul's
/// bias) must be added once, after a split reduction is summed.
Operation *Propagator::splitOffAddend(Operation *op, unsigned index) {
  OpBuilder b(op);
  OperationState state(op->getLoc(), op->getName());
  for (auto [i, v] : llvm::enumerate(op->getOperands()))
    if (i != index)
      state.addOperands(v);
  state.addAttributes(op->getAttrs());
  state.addTypes(op->getResultTypes());
  Operation *core = b.create(state);
  Value sum =
      b.create<AddOp>(op->getLoc(), core->getResult(0), op->getOperand(index));
  op->getResult(0).replaceAllUsesWith(sum);
  op->erase();
  return core;
}

void Propagator::record(Operation *op, ArrayRef<ShardingAttr> results,
                        const Candidate &from) {
  MLIRContext *context = op->getContext();
  Attribute attr = results.size() == 1
                       ? Attribute(results[0])
                       : Attribute(ArrayAttr::get(
                             context, SmallVector<Attribute>(results.begin(),
                                                             results.end())));
  op->setAttr(RoseDialect::kShardingAttrName, attr);
  bool sharded =
      llvm::any_of(results, [](ShardingAttr s) { return !s.isReplicated(); });
  if (sharded || from.annotated) {
    op->setAttr(RoseDialect::kShardingOriginAttrName,
                StringAttr::get(context, from.origin));
    if (from.priority != kUnannotated)
      op->setAttr(
          RoseDialect::kShardingPriorityAttrName,
          IntegerAttr::get(IntegerType::get(context, 64), from.priority));
  }
  for (auto [i, result] : llvm::enumerate(op->getResults()))
    layouts[result] = {usersLayout(op, i), from.origin, from.priority};
}

FailureOr<Operation *> Propagator::visit(Operation *op) {
  if (isa<ParamOp, ConstantOp, func::ReturnOp>(op))
    return op;
  if (isa<AllReduceOp, AllGatherOp, AllToAllOp, ReduceScatterOp, ShardSliceOp>(
          op) &&
      op->getAttrOfType<StringAttr>("axis").getValue() == mesh.axis)
    return op->emitOpError()
           << "input to rose-tp-shard already has collectives over '"
           << mesh.axis << "'";
  auto iface = dyn_cast<ShardingRuleOpInterface>(op);
  if (!iface) {
    bool sharded = llvm::any_of(op->getOperands(), [&](Value v) {
      auto it = layouts.find(v);
      return it != layouts.end() && !it->second.layout.isReplicated();
    });
    if (sharded)
      op->emitRemark() << "rose-shard-propagate: '"
                       << op->getName().getStringRef()
                       << "' has no sharding rule: it runs replicated";
    SmallVector<ShardingAttr> replicated(
        op->getNumResults(),
        ShardingAttr::getReplicated(op->getContext(), mesh.axis));
    record(op, replicated, Candidate{});
    return op;
  }
  ShardingRule rule = iface.getShardingRule();
  FailureOr<Candidate> best = decide(op, rule);
  if (failed(best))
    return failure();
  FactorChoice choice = best->choice;
  if (choice.factor >= 0 &&
      rule.factors[choice.factor].kind == FactorKind::Reduction &&
      rule.addedAfterReduction >= 0 &&
      rule.addedAfterReduction < static_cast<int64_t>(op->getNumOperands()))
    return visit(splitOffAddend(op, rule.addedAfterReduction));
  SmallVector<ShardingAttr> results;
  for (ArrayRef<DimFactor> dims : rule.results)
    results.push_back(layoutUnder(op->getContext(), rule, dims, choice,
                                  mesh.axis, /*isResult=*/true));
  record(op, results, *best);
  return op;
}

LogicalResult Propagator::run(func::FuncOp fn) {
  Block &body = fn.getBody().front();
  for (BlockArgument arg : body.getArguments()) {
    ShardingAttr layout = mesh.own(
        fn.getArgAttr(arg.getArgNumber(), RoseDialect::kShardingAttrName));
    layouts[arg] = {
        layout ? layout
               : ShardingAttr::getReplicated(fn.getContext(), mesh.axis),
        "argument #" + std::to_string(arg.getArgNumber()),
        layout ? 0 : kUnannotated};
  }
  for (Operation *op = &body.front(); op;) {
    FailureOr<Operation *> visited = visit(op);
    if (failed(visited))
      return failure();
    op = (*visited)->getNextNode();
  }
  return success();
}

namespace {
struct RoseShardPropagatePass
    : public mlir::rose::impl::RoseShardPropagateBase<RoseShardPropagatePass> {
  using RoseShardPropagateBase::RoseShardPropagateBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    FailureOr<Mesh> mesh = Mesh::of(module, "rose-shard-propagate", axis);
    if (failed(mesh))
      return signalPassFailure();
    for (auto fn : module.getOps<func::FuncOp>()) {
      if (fn.isExternal())
        continue;
      if (!fn.getBody().hasOneBlock()) {
        fn.emitError("rose-shard-propagate: functions must have one block");
        return signalPassFailure();
      }
      Propagator propagator(*mesh, sequenceDim);
      if (failed(propagator.run(fn)))
        return signalPassFailure();
    }
  }
};

/// "'h.0.mlp.c_fc': split on dim 2 over tp because of 'h.0.mlp.c_fc' (plan:
/// colwise)" for every op whose result is not replicated.
struct RoseShardExplainPass
    : public mlir::rose::impl::RoseShardExplainBase<RoseShardExplainPass> {
  void runOnOperation() override {
    getOperation()->walk([](Operation *op) {
      std::optional<SmallVector<ShardingAttr>> layouts = recordedLayouts(op);
      if (!layouts || llvm::all_of(*layouts, [](ShardingAttr s) {
            return s.isReplicated();
          }))
        return;
      ShardingAttr s = (*layouts)[0];
      auto origin =
          op->getAttrOfType<StringAttr>(RoseDialect::kShardingOriginAttrName);
      InFlightDiagnostic remark = op->emitRemark();
      remark << "rose-shard-explain: '" << layerName(op) << "' ";
      if (s.isPartial())
        remark << "partial over " << s.getAxis();
      else if (s.isSplit())
        remark << "split on dim " << s.getDim() << " over " << s.getAxis();
      else
        remark << "replicated";
      if (s.getGroups() != 1)
        remark << " in " << s.getGroups() << " groups";
      if (origin)
        remark << " because of " << origin.getValue();
    });
  }
};
} // namespace
