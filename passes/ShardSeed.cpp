//===- ShardSeed.cpp - a TP plan as sharding annotations ------------------===//
//
// The plan decides each layer's style (ShardingPlan); this pass writes the
// style down as the layer's result sharding, the annotation propagation
// starts from, and checks up front that the style fits the TP degree (one
// error naming the layer and the numbers):
//
//   colwise        split on the last dim (by heads, in as many groups as the
//                  split feeding attention has pieces, for a fused QKV)
//   colwise_gather split on the last dim, handed to users gathered
//   rowwise        partial (the reduction over input features is split)
//   vocab          partial (an embedding's rows are split; masked lookup)
//   replicate      replicated (plan files only; `auto` leaves unrecognised
//                  layers to propagation)
//   sequence parallel: every layer_norm split on the sequence dim (1)
//
// Grouped-query attention with fewer kv heads than ranks is rewritten first
// so that every rank holds the kv head its query heads use (see
// replicateKvHeads).
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"
#include "passes/Sharding.h"
#include "passes/ShardingPlan.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

namespace mlir::rose {
#define GEN_PASS_DEF_ROSESHARDSEED
#include "passes/Passes.h.inc"
} // namespace mlir::rose

using namespace mlir;
using namespace mlir::rose;

namespace {

/// Priority of plan annotations: below user-written ones (0).
constexpr int64_t kPlanPriority = 1;

struct Seeder {
  const ShardingPlan &plan;
  int64_t tp;
  bool sequenceParallel, gatherLogits;

  LogicalResult run(func::FuncOp fn);
  LogicalResult replicateKvHeads(AttentionOp attn);
  LogicalResult seedMatMul(MatMulOp op);
  /// A plan file's output_layouts: the layout users get (rose.sharding_out).
  LogicalResult handOver(Operation *op);
  void annotate(Operation *op, ShardingAttr layout, llvm::StringRef style,
                bool pad = false);
};

} // namespace

void Seeder::annotate(Operation *op, ShardingAttr layout, llvm::StringRef style,
                      bool pad) {
  MLIRContext *context = op->getContext();
  op->setAttr(RoseDialect::kShardingAttrName, layout);
  op->setAttr(RoseDialect::kShardingOriginAttrName,
              StringAttr::get(context,
                              "'" + layerName(op) + "' (plan: " + style + ")"));
  op->setAttr(RoseDialect::kShardingPriorityAttrName,
              IntegerAttr::get(IntegerType::get(context, 64), kPlanPriority));
  if (pad)
    op->setAttr(RoseDialect::kShardingPadAttrName, UnitAttr::get(context));
}

/// The attention a matmul result feeds through one split into equal pieces,
/// and the number of pieces.
static std::pair<AttentionOp, int64_t> attentionFedBy(Value v) {
  for (Operation *user : v.getUsers())
    if (auto split = dyn_cast<SplitOp>(user))
      if (llvm::all_equal(split.getSizes()))
        for (Operation *u : split.getResult(0).getUsers())
          if (auto attn = dyn_cast<AttentionOp>(u))
            return {attn, split.getNumResults()};
  return {AttentionOp(), 1};
}

/// The attention `v` feeds directly or through a rotary embedding.
static AttentionOp attentionOf(Value v) {
  for (Operation *user : v.getUsers()) {
    if (auto attn = dyn_cast<AttentionOp>(user))
      return attn;
    if (auto rope = dyn_cast<RotaryOp>(user))
      for (Operation *u : rope.getResult().getUsers())
        if (auto attn = dyn_cast<AttentionOp>(u))
          return attn;
  }
  return {};
}

/// `p` with dim `dim` cut into `blocks` blocks, each repeated `times` times.
static Value repeated(ParamOp p, int64_t dim, int64_t blocks, int64_t times) {
  OpBuilder b(p);
  SmallVector<int64_t> shape(p.getType().getShape());
  shape[dim] *= times;
  return b.create<ParamOp>(
      p.getLoc(), RankedTensorType::get(shape, p.getType().getElementType()),
      p.getName(), WeightSliceAttr(),
      b.getDenseI64ArrayAttr({dim, blocks, times}));
}

/// Grouped-query attention over more ranks than kv heads (tp = KV x n, tp
/// dividing the heads): the k and v projections are rewritten to produce
/// each kv head n times in a row (their weight and bias params repeated per
/// kv head), and the attention reads tp kv heads. Rank r then computes kv
/// head r / n from its own copy of that head's weights, as vLLM does: exact,
/// no communication, the cost n - 1 extra copies of each kv head's weights.
LogicalResult Seeder::replicateKvHeads(AttentionOp attn) {
  int64_t kv = attn.getNumKvHeads(), heads = attn.getNumHeads();
  // Only where replication is the fix; other misfits are seedMatMul's
  // errors.
  if (tp <= 1 || kv % tp == 0 || tp % kv != 0 || heads % tp != 0)
    return success();
  // Only attention the plan splits by heads (its query projection
  // column-parallel) needs whole kv heads per rank; a plan that keeps it
  // whole needs nothing. Named by that projection, as the checkpoint names
  // layers.
  Value q = attn.getQuery();
  if (auto rope = q.getDefiningOp<RotaryOp>())
    q = rope.getInput();
  auto qProj = q.getDefiningOp<MatMulOp>();
  if (!qProj || plan.styleOf(qProj) != ShardStyle::Colwise)
    return success();
  std::string name = layerName(qProj);
  int64_t times = tp / kv;
  SmallVector<std::pair<MatMulOp, RotaryOp>> projections;
  for (Value operand : {attn.getKey(), attn.getValue()}) {
    auto rope = operand.getDefiningOp<RotaryOp>();
    Value v = rope ? rope.getInput() : operand;
    auto mm = v.getDefiningOp<MatMulOp>();
    auto w = mm ? mm.getRhs().getDefiningOp<ParamOp>() : ParamOp();
    auto bias =
        mm && mm.getBias() ? mm.getBias().getDefiningOp<ParamOp>() : ParamOp();
    if (!w || w.getType().getRank() != 2 || w.getSliceAttr() || w.getRepeat() ||
        (mm.getBias() && !bias) || !v.hasOneUse() ||
        (rope && !rope.getResult().hasOneUse()) ||
        plan.styleOf(mm) != ShardStyle::Colwise)
      return attn.emitOpError()
             << "cannot shard '" << name << "' by heads over tp=" << tp << ": "
             << heads << " heads with " << kv
             << " kv heads need the kv heads replicated, and its k and v are "
                "not each a column-parallel projection of their own";
    projections.push_back({mm, rope});
  }
  for (auto [mm, rope] : projections) {
    ParamOp w = mm.getRhs().getDefiningOp<ParamOp>();
    mm.getRhsMutable().assign(
        repeated(w, mm.getTransposeRhs() ? 0 : 1, kv, times));
    if (w.use_empty())
      w.erase();
    if (Value b = mm.getBias()) {
      ParamOp bias = b.getDefiningOp<ParamOp>();
      mm.getBiasMutable().assign(repeated(bias, 0, kv, times));
      if (bias.use_empty())
        bias.erase();
    }
    auto type = cast<RankedTensorType>(mm.getType());
    SmallVector<int64_t> shape(type.getShape());
    shape.back() *= times;
    mm.getResult().setType(RankedTensorType::get(shape, type.getElementType()));
    if (rope) {
      rope.setNumHeads(kv * times);
      rope.getResult().setType(mm.getType());
    }
  }
  attn.setKvHeads(kv * times);
  return success();
}

static bool isReturned(Value v) {
  return llvm::any_of(v.getUsers(),
                      [](Operation *u) { return isa<func::ReturnOp>(u); });
}

LogicalResult Seeder::seedMatMul(MatMulOp op) {
  ShardStyle style = plan.styleOf(op);
  if (!op.getRhs().getDefiningOp<ParamOp>() ||
      op.getRhs().getType().getRank() != 2)
    return success();
  MLIRContext *context = op.getContext();
  std::string layer = layerName(op);
  bool transposed = op.getTransposeRhs();
  RankedTensorType w = op.getRhs().getType();
  int64_t n = w.getDimSize(transposed ? 0 : 1);
  int64_t k = w.getDimSize(transposed ? 1 : 0);
  int64_t last = op.getType().getRank() - 1;
  switch (style) {
  case ShardStyle::Replicate:
    if (!plan.isStructural())
      annotate(op, ShardingAttr::getReplicated(context), "replicate");
    return success();
  case ShardStyle::Vocab:
  case ShardStyle::SequenceParallel:
    return success();
  case ShardStyle::Colwise:
  case ShardStyle::ColwiseGather: {
    auto [attn, pieces] = attentionFedBy(op.getResult());
    int64_t groups = style == ShardStyle::Colwise && attn ? pieces : 1;
    if (attn && attn.getNumHeads() % tp != 0)
      return op.emitOpError()
             << "cannot shard '" << layer << "' by heads over tp=" << tp << ": "
             << attn.getNumHeads() << " heads are not divisible by " << tp;
    // Separate q/k/v projections (through rotary or not): every rank needs
    // whole kv heads (replicateKvHeads ran first).
    if (AttentionOp direct = attentionOf(op.getResult());
        direct && direct.getNumKvHeads() % tp != 0)
      return op.emitOpError()
             << "cannot shard '" << layer << "' by heads over tp=" << tp << ": "
             << direct.getNumHeads() << " heads with " << direct.getNumKvHeads()
             << " kv heads; tp must divide the heads and either divide the kv "
                "heads or be a multiple of them";
    // Logits that will be gathered may pad the vocab: the padded columns
    // are cut off after the gather, so the result stays exact.
    bool pad = isReturned(op.getResult()) && gatherLogits && groups == 1 &&
               n % tp != 0;
    if (n % (tp * groups) != 0 && !pad)
      return op.emitOpError()
             << "cannot shard '" << layer << "' column-parallel over tp=" << tp
             << ": " << n << " output features are not divisible by "
             << tp * groups;
    annotate(op, ShardingAttr::getSplit(context, last, "tp", groups),
             stringifyShardStyle(style), pad);
    if (style == ShardStyle::ColwiseGather)
      op->setAttr(RoseDialect::kShardingOutAttrName,
                  ShardingAttr::getReplicated(context));
    return handOver(op);
  }
  case ShardStyle::Rowwise:
    if (k % tp != 0)
      return op.emitOpError()
             << "cannot shard '" << layer << "' row-parallel over tp=" << tp
             << ": " << k << " input features are not divisible by " << tp;
    annotate(op, ShardingAttr::getPartial(context), "rowwise");
    return handOver(op);
  }
  return success();
}

LogicalResult Seeder::handOver(Operation *op) {
  std::optional<int64_t> output = plan.outputLayoutOf(op);
  if (!output)
    return success();
  int64_t rank = cast<RankedTensorType>(op->getResult(0).getType()).getRank();
  if (*output >= rank)
    return op->emitOpError()
           << "output_layouts shard(" << *output << ") of '" << layerName(op)
           << "': the result has rank " << rank;
  MLIRContext *context = op->getContext();
  op->setAttr(RoseDialect::kShardingOutAttrName,
              *output < 0 ? ShardingAttr::getReplicated(context)
                          : ShardingAttr::getSplit(context, *output));
  return success();
}

LogicalResult Seeder::run(func::FuncOp fn) {
  MLIRContext *context = fn.getContext();
  SmallVector<AttentionOp> attentions;
  fn.walk([&](AttentionOp a) { attentions.push_back(a); });
  for (AttentionOp a : attentions)
    if (failed(replicateKvHeads(a)))
      return failure();
  WalkResult walk = fn.walk([&](Operation *op) {
    // Annotations already in the input are the user's: they stay.
    if (op->hasAttr(RoseDialect::kShardingAttrName))
      return WalkResult::advance();
    if (auto mm = dyn_cast<MatMulOp>(op))
      return failed(seedMatMul(mm)) ? WalkResult::interrupt()
                                    : WalkResult::advance();
    // PyTorch shards an embedding's rows with RowwiseParallel: here that is
    // the vocab style.
    if (auto emb = dyn_cast<EmbeddingOp>(op);
        emb && (plan.styleOf(emb) == ShardStyle::Vocab ||
                plan.styleOf(emb) == ShardStyle::Rowwise)) {
      annotate(emb, ShardingAttr::getPartial(context), "vocab", /*pad=*/true);
      if (failed(handOver(emb)))
        return WalkResult::interrupt();
    }
    // Norms (layer or RMS) run on this rank's tokens.
    if (isa<LayerNormOp, RmsNormOp>(op) &&
        cast<RankedTensorType>(op->getResult(0).getType()).getRank() >= 3 &&
        (sequenceParallel || plan.styleOf(op) == ShardStyle::SequenceParallel))
      annotate(op, ShardingAttr::getSplit(context, 1), "sequence_parallel");
    return WalkResult::advance();
  });
  if (walk.wasInterrupted())
    return failure();
  // lm-head=sharded: logits split on the vocab stay split for a
  // loss-parallel consumer.
  if (!gatherLogits)
    fn.walk([&](func::ReturnOp ret) {
      for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
        Operation *producer = v.getDefiningOp();
        auto layout =
            producer ? dyn_cast_or_null<ShardingAttr>(
                           producer->getAttr(RoseDialect::kShardingAttrName))
                     : ShardingAttr();
        int64_t last = cast<RankedTensorType>(v.getType()).getRank() - 1;
        if (layout && layout.isSplit() && layout.getDim() == last &&
            layout.getGroups() == 1)
          fn.setResultAttr(i, RoseDialect::kShardingAttrName, layout);
      }
    });
  return success();
}

namespace {
struct RoseShardSeedPass
    : public mlir::rose::impl::RoseShardSeedBase<RoseShardSeedPass> {
  using RoseShardSeedBase::RoseShardSeedBase;

  /// rose.mesh @mesh(dp = D, tp = T) (dp only when > 1), or the module's
  /// own if it matches.
  LogicalResult addMesh(ModuleOp module) {
    SmallVector<Attribute> axes;
    SmallVector<int64_t> sizes;
    OpBuilder b(module.getBodyRegion());
    if (dp > 1) {
      axes.push_back(b.getStringAttr("dp"));
      sizes.push_back(dp);
    }
    axes.push_back(b.getStringAttr("tp"));
    sizes.push_back(tp);
    if (MeshOp existing = MeshOp::find(module)) {
      if (existing.getAxes() == b.getArrayAttr(axes) &&
          existing.getSizes() == ArrayRef<int64_t>(sizes))
        return success();
      return existing.emitError()
             << "rose-tp-shard: the module's mesh differs from tp=" << tp
             << (dp > 1 ? " dp=" + std::to_string(dp) : std::string());
    }
    b.setInsertionPointToStart(module.getBody());
    b.create<MeshOp>(module.getLoc(), "mesh", b.getArrayAttr(axes),
                     b.getDenseI64ArrayAttr(sizes));
    return success();
  }

  /// Data parallelism: every function's inputs and results split on the
  /// batch (dim 0) over dp; the runtime feeds each dp group its rows.
  void splitBatchOverDP(ModuleOp module) {
    ShardingAttr batch = ShardingAttr::getSplit(&getContext(), 0, "dp");
    for (auto fn : module.getOps<func::FuncOp>()) {
      for (unsigned i = 0; i < fn.getNumArguments(); ++i)
        fn.setArgAttr(i, RoseDialect::kShardingAttrName, batch);
      for (unsigned i = 0; i < fn.getNumResults(); ++i)
        fn.setResultAttr(i, RoseDialect::kShardingAttrName, batch);
    }
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (tp < 1) {
      module.emitError() << "rose-tp-shard: tp must be >= 1, got "
                         << static_cast<int64_t>(tp);
      return signalPassFailure();
    }
    if (auto done =
            module->getAttrOfType<IntegerAttr>(RoseDialect::kTPAttrName)) {
      module.emitError() << "rose-tp-shard: the module is already sharded ("
                         << RoseDialect::kTPAttrName << " = " << done.getInt()
                         << ")";
      return signalPassFailure();
    }
    if (lmHead != "gather" && lmHead != "sharded") {
      module.emitError() << "rose-tp-shard: lm-head must be 'gather' or "
                            "'sharded', got '"
                         << std::string(lmHead) << "'";
      return signalPassFailure();
    }
    std::optional<ShardingPlan> shardingPlan;
    if (plan == "auto" || plan == "rosellm") {
      if (!planFile.empty()) {
        module.emitError() << "rose-tp-shard: plan-file needs plan=file";
        return signalPassFailure();
      }
      shardingPlan = ShardingPlan::automatic(plan == "rosellm", vocabParallel);
    } else if (plan == "file") {
      std::string error;
      FailureOr<ShardingPlan> fromFile =
          ShardingPlan::fromFile(planFile, error);
      if (failed(fromFile)) {
        module.emitError() << "rose-tp-shard: " << error;
        return signalPassFailure();
      }
      shardingPlan = std::move(*fromFile);
    } else {
      module.emitError() << "rose-tp-shard: unknown plan '" << std::string(plan)
                         << "' (auto, rosellm, file)";
      return signalPassFailure();
    }
    if (dp < 1) {
      module.emitError() << "rose-tp-shard: dp must be >= 1, got "
                         << static_cast<int64_t>(dp);
      return signalPassFailure();
    }
    if (dp > 1 && lmHead == "sharded") {
      module.emitError() << "rose-tp-shard: lm-head=sharded needs dp=1 (the "
                            "logits of a dp mesh are gathered)";
      return signalPassFailure();
    }
    if (failed(addMesh(module)))
      return signalPassFailure();
    if (dp > 1)
      splitBatchOverDP(module);
    if (tp == 1)
      return; // Nothing to split: propagation leaves everything replicated.
    Seeder seeder{*shardingPlan, tp, sequenceParallel, lmHead == "gather"};
    for (auto fn : module.getOps<func::FuncOp>()) {
      if (fn.isExternal())
        continue;
      if (!fn.getBody().hasOneBlock()) {
        fn.emitError("rose-tp-shard: functions must have one block");
        return signalPassFailure();
      }
      if (failed(seeder.run(fn)))
        return signalPassFailure();
    }
  }
};
} // namespace
