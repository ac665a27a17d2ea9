//===- RoseShardingRules.cpp - each op's sharding rule --------------------===//
//
// The factors of every rose op (ShardingRule.h). An op lists what may be
// split and what each split means; the sharding passes do the rest.
//
//===----------------------------------------------------------------------===//
#include "dialect/RoseOps.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/STLExtras.h"

#include <numeric>

using namespace mlir;
using namespace mlir::rose;

#include "dialect/RoseShardingInterface.cpp.inc"

static ArrayRef<int64_t> shapeOf(Value v) {
  return cast<RankedTensorType>(v.getType()).getShape();
}

static int64_t normalized(int64_t axis, int64_t rank) {
  return axis < 0 ? axis + rank : axis;
}

ShardingRule mlir::rose::elementwiseRule(TypeRange operandTypes,
                                         Type resultType) {
  ShardingRule rule;
  ArrayRef<int64_t> result = cast<RankedTensorType>(resultType).getShape();
  int64_t rank = result.size();
  for (int64_t d = 0; d < rank; ++d)
    rule.addFactor(FactorKind::Parallel, result[d], "dim " + std::to_string(d));
  for (Type type : operandTypes) {
    ArrayRef<int64_t> shape = cast<RankedTensorType>(type).getShape();
    SmallVector<DimFactor> dims;
    int64_t offset = rank - static_cast<int64_t>(shape.size());
    for (auto [d, size] : llvm::enumerate(shape)) {
      int64_t r = d + offset;
      // A size-1 dim under a larger result dim broadcasts: used whole.
      bool broadcast = size == 1 && result[r] != 1;
      dims.push_back({broadcast ? -1 : r, 0});
    }
    rule.operands.push_back(dims);
  }
  SmallVector<DimFactor> out;
  for (int64_t d = 0; d < rank; ++d)
    out.push_back({d, 0});
  rule.results.push_back(out);
  return rule;
}

/// Every dim a parallel factor of the same index, except `whole` (kept whole).
static ShardingRule sameShapeRule(Operation *op, int64_t whole = -1) {
  ShardingRule rule =
      elementwiseRule(op->getOperand(0).getType(), op->getResult(0).getType());
  if (whole >= 0) {
    rule.operands[0][whole].factor = -1;
    rule.results[0][whole].factor = -1;
  }
  return rule;
}

//===----------------------------------------------------------------------===//
// Shape-derived tensors and gathers
//===----------------------------------------------------------------------===//

/// No factor anywhere: a tensor computed from a reference's dims is made
/// whole on every rank (partition slices it for a split consumer).
static ShardingRule sourceRule(Operation *op) {
  ShardingRule rule;
  for (Value v : op->getOperands())
    rule.operands.push_back(
        SmallVector<DimFactor>(shapeOf(v).size(), DimFactor{-1, 0}));
  rule.results.push_back(SmallVector<DimFactor>(
      shapeOf(op->getResult(0)).size(), DimFactor{-1, 0}));
  return rule;
}
ShardingRule IotaOp::getShardingRule() { return sourceRule(*this); }
ShardingRule FillOp::getShardingRule() { return sourceRule(*this); }

ShardingRule TriluOp::getShardingRule() {
  // The triangle is in the last two dims' indices: they stay whole.
  int64_t rank = shapeOf(getInput()).size();
  ShardingRule rule = sameShapeRule(*this, rank - 1);
  rule.operands[0][rank - 2].factor = -1;
  rule.results[0][rank - 2].factor = -1;
  return rule;
}

ShardingRule GatherOp::getShardingRule() {
  // Dims around the gathered axis and the index dims pass through; the axis
  // is read at arbitrary indices, so it stays whole.
  ShardingRule rule;
  ArrayRef<int64_t> in = shapeOf(getInput()), idx = shapeOf(getIndices());
  int64_t axis = normalized(getAxis(), in.size());
  SmallVector<DimFactor> inDims(in.size()), idxDims, out;
  for (int64_t d = 0; d < axis; ++d) {
    int64_t f =
        rule.addFactor(FactorKind::Parallel, in[d], "dim " + std::to_string(d));
    inDims[d] = {f, 0};
    out.push_back({f, 0});
  }
  inDims[axis] = {-1, 0};
  for (auto [d, size] : llvm::enumerate(idx)) {
    int64_t f = rule.addFactor(FactorKind::Parallel, size,
                               "index dim " + std::to_string(d));
    idxDims.push_back({f, 0});
    out.push_back({f, 0});
  }
  for (int64_t d = axis + 1, e = in.size(); d < e; ++d) {
    int64_t f =
        rule.addFactor(FactorKind::Parallel, in[d], "dim " + std::to_string(d));
    inDims[d] = {f, 0};
    out.push_back({f, 0});
  }
  rule.operands = {inDims, idxDims};
  rule.results = {out};
  return rule;
}

//===----------------------------------------------------------------------===//
// Compute
//===----------------------------------------------------------------------===//

ShardingRule EmbeddingOp::getShardingRule() {
  ShardingRule rule;
  ArrayRef<int64_t> ids = shapeOf(getIndices()), table = shapeOf(getTable());
  SmallVector<DimFactor> idDims, out;
  for (auto [d, size] : llvm::enumerate(ids)) {
    int64_t f = rule.addFactor(FactorKind::Parallel, size,
                               "index dim " + std::to_string(d));
    idDims.push_back({f, 0});
    out.push_back({f, 0});
  }
  // Rows of the table: a rank holding some rows looks up only those ids and
  // gives zeros for the others (a masked lookup), so the result is partial.
  int64_t vocab = rule.addFactor(FactorKind::Reduction, table[0],
                                 "vocab-parallel embedding", true);
  int64_t hidden = rule.addFactor(FactorKind::Parallel, table[1], "features");
  out.push_back({hidden, 0});
  rule.operands = {{{vocab, 0}, {hidden, 0}}, idDims};
  rule.results = {out};
  return rule;
}

LogicalResult EmbeddingOp::localizeAttributes(ArrayRef<int64_t> shards) {
  ShardingRule rule = getShardingRule();
  int64_t vocab = rule.operands[0][0].factor;
  if (shards[vocab] > 1)
    setVocabShardsAttr(Builder(getContext()).getI64IntegerAttr(shards[vocab]));
  return success();
}

ShardingRule PositionsOp::getShardingRule() {
  // Positions count along the last dim from the start of the whole sequence:
  // that dim stays whole.
  return sameShapeRule(*this, shapeOf(getInput()).size() - 1);
}

ShardingRule MatMulOp::getShardingRule() {
  ShardingRule rule;
  ArrayRef<int64_t> lhs = shapeOf(getLhs()), rhs = shapeOf(getRhs()),
                    res = shapeOf(getResult());
  int64_t rank = res.size(), lr = lhs.size(), rr = rhs.size();
  bool transposed = getTransposeRhs();
  SmallVector<DimFactor> l(lr), r(rr), out(rank);
  // Batch dims broadcast numpy-style: a 2-D weight applies to every batch.
  for (int64_t d = 0; d < rank - 2; ++d) {
    int64_t f = rule.addFactor(FactorKind::Parallel, res[d],
                               "batch dim " + std::to_string(d));
    out[d] = {f, 0};
    for (auto [dims, shape, opRank] :
         {std::tuple(&l, lhs, lr), std::tuple(&r, rhs, rr)}) {
      int64_t od = d - (rank - opRank);
      if (od >= 0 && !(shape[od] == 1 && res[d] != 1))
        (*dims)[od] = {f, 0};
    }
  }
  int64_t m = rule.addFactor(FactorKind::Parallel, lhs[lr - 2], "rows");
  int64_t nDim = transposed ? rr - 2 : rr - 1,
          kDim = transposed ? rr - 1 : rr - 2;
  int64_t n =
      rule.addFactor(FactorKind::Parallel, rhs[nDim], "output features", true);
  int64_t k =
      rule.addFactor(FactorKind::Reduction, lhs[lr - 1], "row-parallel matmul");
  l[lr - 2] = {m, 0};
  l[lr - 1] = {k, 0};
  r[nDim] = {n, 0};
  r[kDim] = {k, 0};
  out[rank - 2] = {m, 0};
  out[rank - 1] = {n, 0};
  rule.operands = {l, r};
  if (getBias()) {
    rule.operands.push_back({{n, 0}});
    rule.addedAfterReduction = 2;
  }
  rule.results = {out};
  return rule;
}

ShardingRule LayerNormOp::getShardingRule() {
  // Normalises whole rows: the last dim stays whole, scale and bias too.
  ShardingRule rule = sameShapeRule(*this, shapeOf(getInput()).size() - 1);
  rule.operands.push_back({{-1, 0}});
  rule.operands.push_back({{-1, 0}});
  return rule;
}

ShardingRule RmsNormOp::getShardingRule() {
  // Normalises whole rows: the last dim stays whole, scale too.
  ShardingRule rule = sameShapeRule(*this, shapeOf(getInput()).size() - 1);
  rule.operands.push_back({{-1, 0}});
  return rule;
}

ShardingRule RotaryOp::getShardingRule() {
  // Each token is rotated by its own position (an input), so batch and
  // sequence are parallel; heads split whole.
  ShardingRule rule;
  ArrayRef<int64_t> x = shapeOf(getInput());
  int64_t batch = rule.addFactor(FactorKind::Parallel, x[0], "batch");
  int64_t seq = rule.addFactor(FactorKind::Parallel, x[1], "sequence");
  int64_t heads = rule.addFactor(FactorKind::Parallel, getNumHeads(), "heads");
  rule.operands = {{{batch, 0}, {seq, 0}, {heads, 0}}, {{batch, 0}, {seq, 0}}};
  rule.results = {{{batch, 0}, {seq, 0}, {heads, 0}}};
  return rule;
}

LogicalResult RotaryOp::localizeAttributes(ArrayRef<int64_t> shards) {
  int64_t parts = shards[2];
  if (getNumHeads() % parts != 0)
    return emitOpError() << getNumHeads() << " heads cannot be split in "
                         << parts << " parts";
  setNumHeads(getNumHeads() / parts);
  return success();
}

// Unary maps split anywhere; neg of a partial sum is the partial sum of negs.
#define ROSE_UNARY_RULE(Op, isLinear)                                          \
  ShardingRule Op::getShardingRule() {                                         \
    ShardingRule rule = sameShapeRule(*this);                                  \
    rule.linear = isLinear;                                                    \
    return rule;                                                               \
  }
ROSE_UNARY_RULE(GeluOp, false)
ROSE_UNARY_RULE(SiluOp, false)
ROSE_UNARY_RULE(ReluOp, false)
ROSE_UNARY_RULE(NegOp, true)
ROSE_UNARY_RULE(ExpOp, false)
ROSE_UNARY_RULE(SqrtOp, false)
ROSE_UNARY_RULE(ReciprocalOp, false)
ROSE_UNARY_RULE(TanhOp, false)
ROSE_UNARY_RULE(ErfOp, false)
ROSE_UNARY_RULE(SigmoidOp, false)
ROSE_UNARY_RULE(CosOp, false)
ROSE_UNARY_RULE(SinOp, false)
ROSE_UNARY_RULE(NotOp, false)
ROSE_UNARY_RULE(CastOp, false)
#undef ROSE_UNARY_RULE

ShardingRule WhereOp::getShardingRule() {
  return elementwiseRule(getOperandTypes(), getType());
}

ShardingRule ReduceOp::getShardingRule() {
  // A split summed axis leaves partial sums, which is what a split reduction
  // factor means; a mean or max needs its whole axis (a partial mean would
  // divide by the local count).
  ArrayRef<int64_t> in = shapeOf(getInput());
  int64_t axis = normalized(getAxis(), in.size());
  ShardingRule rule = sameShapeRule(*this, axis);
  if (getKind() == ReduceKind::Sum)
    rule.operands[0][axis].factor =
        rule.addFactor(FactorKind::Reduction, in[axis], "summed axis");
  return rule;
}

ShardingRule SoftmaxOp::getShardingRule() {
  return sameShapeRule(*this,
                       normalized(getAxis(), shapeOf(getInput()).size()));
}

#define ROSE_BINARY_RULE(Op, isLinear)                                         \
  ShardingRule Op::getShardingRule() {                                         \
    ShardingRule rule = elementwiseRule(getOperandTypes(), getType());         \
    rule.linear = isLinear;                                                    \
    return rule;                                                               \
  }
ROSE_BINARY_RULE(AddOp, true)
ROSE_BINARY_RULE(SubOp, true)
ROSE_BINARY_RULE(MulOp, false)
ROSE_BINARY_RULE(DivOp, false)
ROSE_BINARY_RULE(PowOp, false)
ROSE_BINARY_RULE(MaxOp, false)
ROSE_BINARY_RULE(MinOp, false)
ROSE_BINARY_RULE(EqualOp, false)
ROSE_BINARY_RULE(LessOp, false)
ROSE_BINARY_RULE(GreaterOp, false)
#undef ROSE_BINARY_RULE

ShardingRule AttentionOp::getShardingRule() {
  // [batch, seq, heads * head_dim]: batches and whole heads are independent;
  // every query attends to the whole (causal) key sequence. q and k/v split
  // alike by kv-head groups: rank r holds query heads [r H/t, (r+1) H/t) and
  // the kv heads they use, [r KV/t, (r+1) KV/t), when t divides KV.
  ShardingRule rule;
  ArrayRef<int64_t> q = shapeOf(getQuery());
  int64_t batch = rule.addFactor(FactorKind::Parallel, q[0], "batch");
  int64_t heads =
      rule.addFactor(FactorKind::Parallel, getNumKvHeads(), "kv heads");
  SmallVector<DimFactor> dims = {{batch, 0}, {-1, 0}, {heads, 0}};
  rule.operands = {dims, dims, dims};
  rule.results = {dims};
  return rule;
}

LogicalResult AttentionOp::localizeAttributes(ArrayRef<int64_t> shards) {
  int64_t parts = shards[1];
  if (getNumKvHeads() % parts != 0)
    return emitOpError() << getNumKvHeads() << " kv heads cannot be split in "
                         << parts << " parts";
  if (getKvHeads())
    setKvHeads(getNumKvHeads() / parts);
  setNumHeads(getNumHeads() / parts);
  return success();
}

//===----------------------------------------------------------------------===//
// Shape ops
//===----------------------------------------------------------------------===//

ShardingRule ReshapeOp::getShardingRule() {
  // Input and output dims are matched in blocks of equal element count. A
  // dim copied with 0 is its own block. In a block that merges or splits
  // dims, the leading input and output dims share a factor: a contiguous
  // split of [H * D] is a split of H in [H, D] when the part count divides
  // both (units = gcd); the other dims of the block stay whole.
  ShardingRule rule;
  ArrayRef<int64_t> in = shapeOf(getInput()), out = shapeOf(getResult());
  ArrayRef<int64_t> spec = getShape();
  SmallVector<DimFactor> inDims(in.size()), outDims(out.size());
  size_t i = 0, j = 0;
  bool matched = true;
  while (matched && i < in.size() && j < out.size()) {
    if (spec[j] == 0 && i == j) {
      int64_t f = rule.addFactor(FactorKind::Parallel, in[i],
                                 "dim " + std::to_string(i));
      inDims[i++] = {f, 0};
      outDims[j++] = {f, 0};
      continue;
    }
    if (ShapedType::isDynamic(in[i]) || ShapedType::isDynamic(out[j]))
      break; // Sizes unknown: the rest stays whole.
    int64_t i0 = i, j0 = j, inCount = in[i++], outCount = out[j++];
    while (matched && inCount != outCount) {
      if (inCount < outCount && i < in.size() && !ShapedType::isDynamic(in[i]))
        inCount *= in[i++];
      else if (outCount < inCount && j < out.size() &&
               !ShapedType::isDynamic(out[j]))
        outCount *= out[j++];
      else
        matched = false;
    }
    if (!matched)
      break;
    int64_t f = rule.addFactor(FactorKind::Parallel, std::gcd(in[i0], out[j0]),
                               "dim " + std::to_string(j0));
    inDims[i0] = {f, 0};
    outDims[j0] = {f, 0};
  }
  rule.operands = {inDims};
  rule.results = {outDims};
  return rule;
}

LogicalResult ReshapeOp::localizeAttributes(ArrayRef<int64_t> shards) {
  ShardingRule rule = getShardingRule();
  SmallVector<int64_t> spec(getShape());
  for (auto [j, df] : llvm::enumerate(rule.results[0])) {
    if (df.factor < 0 || shards[df.factor] == 1 || spec[j] <= 0)
      continue;
    if (spec[j] % shards[df.factor] != 0)
      return emitOpError() << "dim " << j << " of size " << spec[j]
                           << " cannot be split in " << shards[df.factor]
                           << " parts";
    spec[j] /= shards[df.factor];
  }
  setShape(spec);
  return success();
}

ShardingRule TransposeOp::getShardingRule() {
  ShardingRule rule;
  ArrayRef<int64_t> in = shapeOf(getInput());
  SmallVector<DimFactor> inDims, outDims;
  for (auto [d, size] : llvm::enumerate(in))
    inDims.push_back(
        {rule.addFactor(FactorKind::Parallel, size, "dim " + std::to_string(d)),
         0});
  for (int64_t p : getPermutation())
    outDims.push_back(inDims[p]);
  rule.operands = {inDims};
  rule.results = {outDims};
  return rule;
}

ShardingRule SplitOp::getShardingRule() {
  // Equal pieces of a dim split in as many interleaved groups: each piece is
  // split contiguously (the heads of q, k and v of a fused QKV projection).
  // Otherwise the pieces straddle ranks and the split axis stays whole.
  int64_t axis = normalized(getAxis(), shapeOf(getInput()).size());
  ShardingRule rule = elementwiseRule(getInput().getType(), getType(0));
  rule.operands[0][axis] = {-1, 0};
  ArrayRef<int64_t> sizes = getSizes();
  SmallVector<DimFactor> piece = rule.results[0];
  piece[axis] = {-1, 0};
  if (sizes.size() > 1 && llvm::all_equal(sizes)) {
    rule.factors[axis] = {FactorKind::Parallel, sizes[0], "split pieces"};
    rule.operands[0][axis] = {axis, static_cast<int64_t>(sizes.size())};
    piece[axis] = {axis, 1};
  }
  rule.results.assign(getNumResults(), piece);
  return rule;
}

LogicalResult SplitOp::localizeAttributes(ArrayRef<int64_t> shards) {
  int64_t axis = normalized(getAxis(), shapeOf(getInput()).size());
  SmallVector<int64_t> sizes(getSizes());
  for (int64_t &s : sizes)
    s /= shards[axis];
  setSizes(sizes);
  return success();
}

ShardingRule ConcatOp::getShardingRule() {
  int64_t rank = shapeOf(getResult()).size();
  ShardingRule rule = elementwiseRule(getOperandTypes(), getType());
  int64_t axis = normalized(getAxis(), rank);
  // Concatenated operands differ in size along the axis: it stays whole.
  for (auto &dims : rule.operands)
    dims[axis] = {-1, 0};
  rule.results[0][axis] = {-1, 0};
  return rule;
}

ShardingRule SliceOp::getShardingRule() {
  return sameShapeRule(*this,
                       normalized(getAxis(), shapeOf(getInput()).size()));
}

//===----------------------------------------------------------------------===//
// Collectives: over another mesh axis, every dim but the exchanged one.
//===----------------------------------------------------------------------===//

ShardingRule AllReduceOp::getShardingRule() { return sameShapeRule(*this); }
ShardingRule AllGatherOp::getShardingRule() {
  return sameShapeRule(*this, getDim());
}
ShardingRule AllToAllOp::getShardingRule() {
  ShardingRule rule = sameShapeRule(*this, getSplitDim());
  rule.operands[0][getConcatDim()].factor = -1;
  rule.results[0][getConcatDim()].factor = -1;
  return rule;
}
ShardingRule ReduceScatterOp::getShardingRule() {
  return sameShapeRule(*this, getDim());
}
ShardingRule ShardSliceOp::getShardingRule() {
  return sameShapeRule(*this, getDim());
}
