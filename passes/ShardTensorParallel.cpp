//===- ShardTensorParallel.cpp - Megatron-style TP sharding
//----------------===//
//
// Rewrites the dense @forward into the SPMD function every TP rank runs. The
// pass walks the ops in order and tracks, for every value, its layout over
// the TP axis: replicated, split on a dim (possibly in interleaved groups, as
// a fused QKV split by heads is), or partial sums. Each op's rule picks the
// layouts it needs from its operands; a mismatch becomes a collective (with a
// remark saying which, why and how many bytes), and weights are never moved:
// a param that must be split gets a #rose.slice and is loaded pre-sliced.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"
#include "passes/ShardingPlan.h"
#include "runtime/CheckedMath.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/TypeSwitch.h"

#include <map>

namespace mlir::rose {
#define GEN_PASS_DEF_ROSETPSHARD
#include "passes/Passes.h.inc"
} // namespace mlir::rose

using namespace mlir;
using namespace mlir::rose;

namespace {

/// Where a value lives over the TP axis.
struct Layout {
  enum Kind { Replicated, Split, Partial } kind = Replicated;
  int64_t dim = -1;
  /// Split dims viewed as `groups` interleaved groups (3 for fused QKV).
  int64_t groups = 1;

  static Layout replicated() { return {}; }
  static Layout split(int64_t dim, int64_t groups = 1) {
    return {Split, dim, groups};
  }
  static Layout partial() { return {Partial, -1, 1}; }
  bool operator==(const Layout &o) const {
    return kind == o.kind && dim == o.dim && groups == o.groups;
  }
  bool operator!=(const Layout &o) const { return !(*this == o); }
};

struct Sharded {
  Value value;
  Layout layout;
};

int64_t rankOf(Value v) {
  return cast<RankedTensorType>(v.getType()).getRank();
}

/// "3072 bytes per rank per token" for a [batch, seq, 768] f32 tensor.
std::string bytesPerRank(Type type) {
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

class Sharder {
public:
  Sharder(func::FuncOp fn, const ShardingPlan &plan, int64_t tp,
          bool sequenceParallel, bool gatherLogits)
      : fn(fn), plan(plan), tp(tp), sp(sequenceParallel),
        gatherLogits(gatherLogits), b(fn.getContext()) {}

  LogicalResult run();

private:
  LogicalResult visit(Operation *op);
  LogicalResult visitEmbedding(EmbeddingOp op);
  LogicalResult visitMatMul(MatMulOp op);
  LogicalResult visitElementwise(Operation *op);
  LogicalResult visitLayerNorm(LayerNormOp op);
  LogicalResult visitSplit(SplitOp op);
  LogicalResult visitAttention(AttentionOp op);
  LogicalResult visitReturn(func::ReturnOp op);
  LogicalResult visitReplicated(Operation *op);

  bool isParam(Value orig) const { return orig.getDefiningOp<ParamOp>(); }
  Sharded lookup(Value orig);
  FailureOr<Value> get(Value orig, Layout want, llvm::StringRef why);
  FailureOr<Value> param(ParamOp orig, Layout want, bool pad = false);
  FailureOr<Value> convert(Value v, Layout from, Layout to,
                           llvm::StringRef why);
  FailureOr<Sharded> resolvePartial(Sharded s, llvm::StringRef why);
  void remark(Operation *collective, llvm::StringRef what, llvm::StringRef why);
  Location collectiveLoc();
  void define(Value orig, Value value, Layout layout) {
    mapped[orig] = {value, layout};
  }

  func::FuncOp fn;
  const ShardingPlan &plan;
  int64_t tp;
  bool sp, gatherLogits;
  OpBuilder b;
  Operation *current = nullptr;
  std::string layer;
  llvm::DenseMap<Value, Sharded> mapped;
  std::map<std::tuple<Operation *, int64_t, int64_t>, Value> params;
};

} // namespace

//===----------------------------------------------------------------------===//
// Values, params and conversions
//===----------------------------------------------------------------------===//

Sharded Sharder::lookup(Value orig) {
  if (auto p = orig.getDefiningOp<ParamOp>())
    return {*param(p, Layout::replicated()), Layout::replicated()};
  return mapped.lookup(orig);
}

FailureOr<Value> Sharder::param(ParamOp orig, Layout want, bool pad) {
  bool split = want.kind == Layout::Split && tp > 1;
  auto key = std::make_tuple(orig.getOperation(), split ? want.dim : -1,
                             split ? want.groups : 1);
  if (Value cached = params[key])
    return cached;
  RankedTensorType full = orig.getType();
  Type type = full;
  WeightSliceAttr slice;
  if (split) {
    int64_t size = full.getDimSize(want.dim);
    if (size % (tp * want.groups) != 0 && !(pad && want.groups == 1))
      return current->emitOpError()
             << "cannot split param '" << orig.getName() << "' dim " << want.dim
             << " of size " << size << " into " << want.groups
             << " group(s) over tp=" << tp;
    SmallVector<int64_t> local(full.getShape());
    // Padded chunks: the loader fills rows past the end with zeros.
    local[want.dim] = llvm::divideCeil(size, tp);
    type = RankedTensorType::get(local, full.getElementType());
    slice = WeightSliceAttr::get(b.getContext(), want.dim, tp, want.groups,
                                 full.getShape());
  }
  // Params go to the top of the function: one may serve later ops too.
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&fn.getBody().front());
  Value value = b.create<ParamOp>(orig.getLoc(), type, orig.getName(), slice);
  params[key] = value;
  return value;
}

Location Sharder::collectiveLoc() {
  return NameLoc::get(b.getStringAttr(layer), current->getLoc());
}

void Sharder::remark(Operation *collective, llvm::StringRef what,
                     llvm::StringRef why) {
  collective->emitRemark() << "rose-tp-shard: " << what << " for '" << layer
                           << "' (" << why << "): "
                           << bytesPerRank(collective->getResult(0).getType());
}

FailureOr<Value> Sharder::convert(Value v, Layout from, Layout to,
                                  llvm::StringRef why) {
  if (from == to)
    return v;
  Location loc = collectiveLoc();
  if (from.kind == Layout::Partial) {
    if (to.kind == Layout::Replicated) {
      auto op = b.create<AllReduceOp>(loc, v, ReductionKind::Sum, "tp", tp);
      remark(op, "inserted all_reduce", why);
      return op.getResult();
    }
    if (to.kind == Layout::Split && to.groups == 1) {
      auto op = b.create<ReduceScatterOp>(loc, v, ReductionKind::Sum, "tp", tp,
                                          to.dim);
      remark(op, "inserted reduce_scatter", why);
      return op.getResult();
    }
  }
  if (from.kind == Layout::Split && from.groups != 1)
    return current->emitOpError()
           << "cannot re-layout a value split in " << from.groups
           << " interleaved groups (a head-split fused QKV) for '" << layer
           << "'";
  if (from.kind == Layout::Replicated && to.kind == Layout::Split &&
      to.groups == 1) {
    auto op = b.create<ShardSliceOp>(loc, v, "tp", tp, to.dim);
    remark(op, "inserted shard_slice (local, no communication)", why);
    return op.getResult();
  }
  if (from.kind == Layout::Split) {
    auto op = b.create<AllGatherOp>(loc, v, "tp", tp, from.dim);
    remark(op, "inserted all_gather", why);
    return convert(op.getResult(), Layout::replicated(), to, why);
  }
  return current->emitOpError() << "no conversion for '" << layer << "'";
}

FailureOr<Value> Sharder::get(Value orig, Layout want, llvm::StringRef why) {
  if (auto p = orig.getDefiningOp<ParamOp>())
    return param(p, want);
  Sharded s = lookup(orig);
  return convert(s.value, s.layout, want, why);
}

FailureOr<Sharded> Sharder::resolvePartial(Sharded s, llvm::StringRef why) {
  if (s.layout.kind != Layout::Partial)
    return s;
  // With sequence parallelism, partial sums reduce straight into the
  // sequence-split region (reduce_scatter instead of all_reduce).
  Layout target =
      sp && rankOf(s.value) >= 3 ? Layout::split(1) : Layout::replicated();
  FailureOr<Value> v = convert(s.value, s.layout, target, why);
  if (failed(v))
    return failure();
  return Sharded{*v, target};
}

//===----------------------------------------------------------------------===//
// Op rules
//===----------------------------------------------------------------------===//

LogicalResult Sharder::visitEmbedding(EmbeddingOp op) {
  FailureOr<Value> ids = get(op.getIndices(), Layout::replicated(), "ids");
  if (failed(ids))
    return failure();
  if (plan.styleOf(op) != ShardStyle::Vocab || tp == 1) {
    FailureOr<Value> table = get(op.getTable(), Layout::replicated(), "");
    if (failed(table))
      return failure();
    define(op, b.create<EmbeddingOp>(op.getLoc(), *table, *ids, nullptr),
           Layout::replicated());
    return success();
  }
  // Rows past the vocab pad the last rank's slice with zeros; no id reaches
  // them, so the lookup stays exact.
  auto tableParam = op.getTable().getDefiningOp<ParamOp>();
  if (!tableParam)
    return op.emitOpError() << "a vocab-parallel embedding needs a param table";
  FailureOr<Value> table = param(tableParam, Layout::split(0), /*pad=*/true);
  if (failed(table))
    return failure();
  // Each rank looks up its own rows; the others contribute zeros.
  define(
      op,
      b.create<EmbeddingOp>(op.getLoc(), *table, *ids, b.getI64IntegerAttr(tp)),
      Layout::partial());
  return success();
}

/// The attention a fused QKV projection feeds, if any.
static AttentionOp attentionFedBy(Value qkv) {
  for (Operation *user : qkv.getUsers())
    if (auto split = dyn_cast<SplitOp>(user))
      for (Operation *u : split.getResult(0).getUsers())
        if (auto attn = dyn_cast<AttentionOp>(u))
          return attn;
  return {};
}

LogicalResult Sharder::visitMatMul(MatMulOp op) {
  ShardStyle style = plan.styleOf(op);
  auto weight = op.getRhs().getDefiningOp<ParamOp>();
  int64_t wRank = rankOf(op.getRhs());
  if (!weight || wRank != 2 || tp == 1)
    style = ShardStyle::Replicate;
  bool transposed = op.getTransposeRhs();
  int64_t kDim = transposed ? 1 : 0, nDim = transposed ? 0 : 1;

  FailureOr<Sharded> x = resolvePartial(lookup(op.getLhs()), "matmul input");
  if (failed(x))
    return failure();
  int64_t last = rankOf(op.getLhs()) - 1;

  if (style == ShardStyle::Replicate || style == ShardStyle::Vocab) {
    // Rows of a replicated matmul are independent: a sequence split stays.
    Layout keep = x->layout.kind == Layout::Split && x->layout.dim < last - 1
                      ? x->layout
                      : Layout::replicated();
    FailureOr<Value> in = convert(x->value, x->layout, keep,
                                  "replicated "
                                  "matmul needs its whole input");
    FailureOr<Value> w = get(op.getRhs(), Layout::replicated(), "");
    if (failed(in) || failed(w))
      return failure();
    Value bias;
    if (op.getBias()) {
      FailureOr<Value> bv = get(op.getBias(), Layout::replicated(), "");
      if (failed(bv))
        return failure();
      bias = *bv;
    }
    define(op, b.create<MatMulOp>(op.getLoc(), *in, *w, bias, transposed),
           keep);
    return success();
  }

  int64_t n = op.getRhs().getType().getDimSize(nDim);
  int64_t k = op.getRhs().getType().getDimSize(kDim);
  if (style == ShardStyle::Colwise || style == ShardStyle::ColwiseGather) {
    AttentionOp attn = attentionFedBy(op.getResult());
    int64_t groups = style == ShardStyle::Colwise && attn ? 3 : 1;
    if (attn && attn.getNumHeads() % tp != 0)
      return op.emitOpError()
             << "cannot shard '" << layer << "' by heads over tp=" << tp << ": "
             << attn.getNumHeads() << " heads are not divisible by " << tp;
    // Logits that will be gathered may pad the vocab: the padded columns
    // are cut off after the gather, so the result stays exact.
    bool padHead = layer == "lm_head" && gatherLogits && groups == 1 &&
                   n % tp != 0 && weight;
    if (n % (tp * groups) != 0 && !padHead)
      return op.emitOpError()
             << "cannot shard '" << layer << "' column-parallel over tp=" << tp
             << ": " << n << " output features are not divisible by "
             << tp * groups;
    FailureOr<Value> in = convert(x->value, x->layout, Layout::replicated(),
                                  "column-parallel matmul needs its whole "
                                  "input");
    FailureOr<Value> w =
        padHead ? param(weight, Layout::split(nDim), /*pad=*/true)
                : get(op.getRhs(), Layout::split(nDim, groups), "");
    if (failed(in) || failed(w))
      return failure();
    Value bias;
    if (op.getBias()) {
      auto biasParam = op.getBias().getDefiningOp<ParamOp>();
      FailureOr<Value> bv =
          padHead && biasParam
              ? param(biasParam, Layout::split(0), /*pad=*/true)
              : get(op.getBias(), Layout::split(0, groups), "");
      if (failed(bv))
        return failure();
      bias = *bv;
    }
    Value y = b.create<MatMulOp>(op.getLoc(), *in, *w, bias, transposed);
    Layout out = Layout::split(last, groups);
    if (padHead) {
      FailureOr<Value> g = convert(y, out, Layout::replicated(),
                                   "the caller needs whole logits");
      if (failed(g))
        return failure();
      y = b.create<SliceOp>(op.getLoc(), *g, last, 0, n);
      define(op, y, Layout::replicated());
      return success();
    }
    if (style == ShardStyle::ColwiseGather) {
      FailureOr<Value> g = convert(y, out, Layout::replicated(),
                                   "colwise_gather: the plan gathers the "
                                   "output");
      if (failed(g))
        return failure();
      y = *g;
      out = Layout::replicated();
    }
    define(op, y, out);
    return success();
  }

  // Row-parallel: split input features; each rank holds a partial sum.
  if (k % tp != 0)
    return op.emitOpError()
           << "cannot shard '" << layer << "' row-parallel over tp=" << tp
           << ": " << k << " input features are not divisible by " << tp;
  const char *why = x->layout == Layout::split(last)
                        ? "input_is_parallel"
                        : "input_is_parallel=false: the replicated input is "
                          "sliced locally";
  FailureOr<Value> in = convert(x->value, x->layout, Layout::split(last), why);
  FailureOr<Value> w = get(op.getRhs(), Layout::split(kDim), "");
  if (failed(in) || failed(w))
    return failure();
  Value partial = b.create<MatMulOp>(op.getLoc(), *in, *w, Value(), transposed);
  FailureOr<Sharded> reduced = resolvePartial(
      {partial, Layout::partial()}, "row-parallel matmul leaves partial sums");
  if (failed(reduced))
    return failure();
  Value y = reduced->value;
  // The bias is added once, after the reduction.
  if (op.getBias()) {
    FailureOr<Value> bias = get(op.getBias(), Layout::replicated(), "");
    if (failed(bias))
      return failure();
    y = b.create<AddOp>(op.getLoc(), y, *bias);
  }
  define(op, y, reduced->layout);
  return success();
}

LogicalResult Sharder::visitElementwise(Operation *op) {
  Value lhs = op->getOperand(0), rhs = op->getOperand(1);
  int64_t resultRank = rankOf(op->getResult(0));
  Sharded l = isParam(lhs) ? Sharded{} : lookup(lhs);
  Sharded r = isParam(rhs) ? Sharded{} : lookup(rhs);
  bool linear = isa<AddOp, SubOp>(op);
  // Sums of partial sums stay partial; anything else needs real values.
  if (linear && l.layout.kind == Layout::Partial &&
      r.layout.kind == Layout::Partial) {
    define(op->getResult(0),
           isa<AddOp>(op)
               ? b.create<AddOp>(op->getLoc(), l.value, r.value).getResult()
               : b.create<SubOp>(op->getLoc(), l.value, r.value).getResult(),
           Layout::partial());
    return success();
  }
  for (Sharded *s : {&l, &r}) {
    if (!s->value)
      continue;
    FailureOr<Sharded> resolved = resolvePartial(*s, "elementwise operand");
    if (failed(resolved))
      return failure();
    *s = *resolved;
  }
  // Pick the split (in result dims) the operands agree on, if any.
  std::optional<Layout> split;
  for (auto [s, v] : {std::pair(&l, lhs), std::pair(&r, rhs)}) {
    if (!s->value || s->layout.kind != Layout::Split)
      continue;
    Layout inResult = s->layout;
    inResult.dim += resultRank - rankOf(v);
    if (split && *split != inResult)
      split = Layout::replicated();
    else if (!split)
      split = inResult;
  }
  Layout out = split ? *split : Layout::replicated();
  SmallVector<Value, 2> operands;
  for (auto [s, v] : {std::pair(&l, lhs), std::pair(&r, rhs)}) {
    Layout want = Layout::replicated();
    int64_t dim = out.dim - (resultRank - rankOf(v));
    // An operand broadcast along the split dim is used whole.
    if (out.kind == Layout::Split && dim >= 0 &&
        cast<RankedTensorType>(v.getType()).getDimSize(dim) != 1)
      want = Layout::split(dim, out.groups);
    FailureOr<Value> value = s->value ? convert(s->value, s->layout, want,
                                                "elementwise operands "
                                                "must agree")
                                      : get(v, want, "");
    if (failed(value))
      return failure();
    operands.push_back(*value);
  }
  Value result =
      llvm::TypeSwitch<Operation *, Value>(op)
          .Case([&](AddOp) {
            return b.create<AddOp>(op->getLoc(), operands[0], operands[1]);
          })
          .Case([&](SubOp) {
            return b.create<SubOp>(op->getLoc(), operands[0], operands[1]);
          })
          .Case([&](MulOp) {
            return b.create<MulOp>(op->getLoc(), operands[0], operands[1]);
          })
          .Case([&](DivOp) {
            return b.create<DivOp>(op->getLoc(), operands[0], operands[1]);
          });
  define(op->getResult(0), result, out);
  return success();
}

LogicalResult Sharder::visitLayerNorm(LayerNormOp op) {
  FailureOr<Sharded> x = resolvePartial(lookup(op.getInput()), "layer_norm "
                                                               "input");
  if (failed(x))
    return failure();
  int64_t last = rankOf(op.getInput()) - 1;
  Layout want = x->layout;
  if (want.kind == Layout::Split && want.dim == last)
    want = Layout::replicated();
  // Sequence parallelism: LayerNorm regions run on this rank's tokens.
  if (sp && tp > 1 && want.kind == Layout::Replicated && last >= 2)
    want = Layout::split(1);
  FailureOr<Value> in = convert(x->value, x->layout, want,
                                want.kind == Layout::Split
                                    ? "sequence parallel: LayerNorm runs on "
                                      "this rank's tokens"
                                    : "layer_norm needs whole rows");
  FailureOr<Value> scale = get(op.getScale(), Layout::replicated(), "");
  FailureOr<Value> bias = get(op.getBias(), Layout::replicated(), "");
  if (failed(in) || failed(scale) || failed(bias))
    return failure();
  define(op,
         b.create<LayerNormOp>(op.getLoc(), *in, *scale, *bias,
                               op.getEpsilonAttr()),
         want);
  return success();
}

LogicalResult Sharder::visitSplit(SplitOp op) {
  FailureOr<Sharded> x = resolvePartial(lookup(op.getInput()), "split input");
  if (failed(x))
    return failure();
  int64_t rank = rankOf(op.getInput());
  int64_t axis = op.getAxis() < 0 ? op.getAxis() + rank : op.getAxis();
  ArrayRef<int64_t> sizes = op.getSizes();
  bool equal = llvm::all_equal(sizes);
  Layout in = x->layout, piece = x->layout;
  if (in.kind == Layout::Split && in.dim == axis) {
    // Pieces that are whole groups split locally; others straddle ranks.
    if (in.groups == static_cast<int64_t>(sizes.size()) && equal) {
      piece = Layout::split(axis);
    } else {
      in = piece = Layout::replicated();
    }
  }
  FailureOr<Value> value =
      convert(x->value, x->layout, in, "split pieces straddle ranks");
  if (failed(value))
    return failure();
  SmallVector<int64_t> local(sizes);
  if (piece.kind == Layout::Split && piece.dim == axis)
    for (int64_t &s : local)
      s /= tp;
  auto split = b.create<SplitOp>(op.getLoc(), *value, op.getAxis(), local);
  for (auto [orig, now] : llvm::zip(op.getResults(), split.getResults()))
    define(orig, now, piece);
  return success();
}

LogicalResult Sharder::visitAttention(AttentionOp op) {
  SmallVector<Sharded, 3> qkv;
  for (Value v : {op.getQuery(), op.getKey(), op.getValue()}) {
    FailureOr<Sharded> s = resolvePartial(lookup(v), "attention input");
    if (failed(s))
      return failure();
    qkv.push_back(*s);
  }
  // Attention runs on local heads when q, k and v are split by heads.
  Layout heads = Layout::split(2);
  bool local = tp > 1 && llvm::all_of(qkv, [&](const Sharded &s) {
                 return s.layout == heads;
               });
  if (local && op.getNumHeads() % tp != 0)
    return op.emitOpError()
           << "cannot shard attention over tp=" << tp << ": "
           << op.getNumHeads() << " heads are not divisible by " << tp;
  Layout want = local ? heads : Layout::replicated();
  SmallVector<Value, 3> operands;
  for (Sharded &s : qkv) {
    FailureOr<Value> v = convert(s.value, s.layout, want,
                                 "attention needs q, k, v on the same heads");
    if (failed(v))
      return failure();
    operands.push_back(*v);
  }
  int64_t numHeads = local ? op.getNumHeads() / tp : op.getNumHeads();
  define(op,
         b.create<AttentionOp>(op.getLoc(), operands[0], operands[1],
                               operands[2], numHeads, op.getCausal(),
                               op.getScaleAttr()),
         want);
  return success();
}

LogicalResult Sharder::visitReplicated(Operation *op) {
  // Everything else (reshape, transpose, concat, slice, softmax, gelu,
  // positions, constants) runs on whole values; gelu, softmax and positions
  // keep a split their axis allows.
  IRMapping mapping;
  std::optional<Layout> keep;
  for (Value operand : op->getOperands()) {
    FailureOr<Sharded> s =
        isParam(operand) ? FailureOr<Sharded>(
                               Sharded{*param(operand.getDefiningOp<ParamOp>(),
                                              Layout::replicated()),
                                       Layout::replicated()})
                         : resolvePartial(lookup(operand), "operand");
    if (failed(s))
      return failure();
    Layout want = Layout::replicated();
    if (isa<GeluOp, ReluOp>(op) && s->layout.kind == Layout::Split)
      want = s->layout;
    if (auto softmax = dyn_cast<SoftmaxOp>(op);
        softmax && s->layout.kind == Layout::Split) {
      int64_t axis = softmax.getAxis() < 0 ? softmax.getAxis() + rankOf(operand)
                                           : softmax.getAxis();
      if (s->layout.dim != axis)
        want = s->layout;
    }
    FailureOr<Value> v =
        convert(s->value, s->layout, want, "the op needs its whole operand");
    if (failed(v))
      return failure();
    mapping.map(operand, *v);
    keep = want;
  }
  if (isa<AllReduceOp, AllGatherOp, ReduceScatterOp, ShardSliceOp>(op))
    return op->emitOpError("input to rose-tp-shard already has collectives");
  Operation *clone = b.clone(*op, mapping);
  Layout out =
      keep && isa<GeluOp, ReluOp, SoftmaxOp>(op) ? *keep : Layout::replicated();
  // Results whose operand shapes changed need their types re-inferred.
  if (auto infer = dyn_cast<InferTypeOpInterface>(clone)) {
    SmallVector<Type> types;
    if (succeeded(infer.inferReturnTypes(
            b.getContext(), clone->getLoc(), clone->getOperands(),
            clone->getAttrDictionary(), clone->getPropertiesStorage(),
            clone->getRegions(), types)))
      for (auto [result, type] : llvm::zip(clone->getResults(), types))
        result.setType(type);
  }
  for (auto [orig, now] : llvm::zip(op->getResults(), clone->getResults()))
    define(orig, now, out);
  return success();
}

LogicalResult Sharder::visitReturn(func::ReturnOp op) {
  SmallVector<Value> results;
  for (Value v : op.getOperands()) {
    // Collectives here serve the op that produced the result.
    if (Operation *producer = v.getDefiningOp())
      layer = layerName(producer);
    Sharded s = lookup(v);
    FailureOr<Sharded> resolved = resolvePartial(s, "function result");
    if (failed(resolved))
      return failure();
    Layout want = Layout::replicated();
    // lm-head=sharded leaves vocab-split logits for a loss-parallel consumer.
    if (!gatherLogits && resolved->layout == Layout::split(rankOf(v) - 1))
      want = resolved->layout;
    FailureOr<Value> out = convert(resolved->value, resolved->layout, want,
                                   "the caller needs whole logits");
    if (failed(out))
      return failure();
    results.push_back(*out);
  }
  b.create<func::ReturnOp>(op.getLoc(), results);
  fn.setType(
      b.getFunctionType(fn.getArgumentTypes(), ValueRange(results).getTypes()));
  return success();
}

LogicalResult Sharder::visit(Operation *op) {
  current = op;
  layer = layerName(op);
  b.setInsertionPoint(op);
  return llvm::TypeSwitch<Operation *, LogicalResult>(op)
      .Case([&](ParamOp) { return success(); })
      .Case([&](EmbeddingOp e) { return visitEmbedding(e); })
      .Case([&](MatMulOp m) { return visitMatMul(m); })
      .Case<AddOp, SubOp, MulOp, DivOp>(
          [&](Operation *e) { return visitElementwise(e); })
      .Case([&](LayerNormOp l) { return visitLayerNorm(l); })
      .Case([&](SplitOp s) { return visitSplit(s); })
      .Case([&](AttentionOp a) { return visitAttention(a); })
      .Case([&](func::ReturnOp r) { return visitReturn(r); })
      .Default([&](Operation *other) { return visitReplicated(other); });
}

LogicalResult Sharder::run() {
  Block &body = fn.getBody().front();
  for (BlockArgument arg : body.getArguments())
    define(arg, arg, Layout::replicated());
  SmallVector<Operation *> original = llvm::map_to_vector(
      body.getOperations(), [](Operation &op) { return &op; });
  for (Operation *op : original)
    if (failed(visit(op)))
      return failure();
  for (Operation *op : llvm::reverse(original))
    op->erase();
  return success();
}

//===----------------------------------------------------------------------===//
// The pass
//===----------------------------------------------------------------------===//

namespace {
struct RoseTPShardPass
    : public mlir::rose::impl::RoseTPShardBase<RoseTPShardPass> {
  using RoseTPShardBase::RoseTPShardBase;

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
    for (auto fn : module.getOps<func::FuncOp>()) {
      if (fn.isExternal())
        continue;
      if (!fn.getBody().hasOneBlock()) {
        fn.emitError("rose-tp-shard: functions must have one block");
        return signalPassFailure();
      }
      Sharder sharder(fn, *shardingPlan, tp, sequenceParallel,
                      lmHead == "gather");
      if (failed(sharder.run()))
        return signalPassFailure();
    }
    module->setAttr(RoseDialect::kTPAttrName,
                    IntegerAttr::get(IntegerType::get(&getContext(), 64), tp));
  }
};
} // namespace
