//===- RoseOps.cpp - rose op verification and shape inference ------------===//
//
// Shape functions of params, matmul, norms, attention, the shape ops and the
// collectives (ShapeFunctions.h says how they serve inference and the
// verifier); the elementwise ops are in RoseElementwiseOps.cpp.
//
//===----------------------------------------------------------------------===//
#include "dialect/RoseOps.h"
#include "dialect/ShapeFunctions.h"
#include "runtime/CheckedMath.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/TypeUtilities.h"
#include "llvm/ADT/STLExtras.h"

using namespace mlir;
using namespace mlir::rose;
using namespace mlir::rose::shape_fn;

std::string mlir::rose::formatShape(ArrayRef<int64_t> shape) {
  std::string out = "[";
  llvm::raw_string_ostream os(out);
  llvm::interleave(
      shape, os,
      [&](int64_t d) {
        if (ShapedType::isDynamic(d))
          os << "?";
        else
          os << d;
      },
      ", ");
  os << "]";
  return out;
}

bool mlir::rose::isCompatibleResultType(Type inferred, Type declared) {
  if (isa<UnrankedTensorType>(inferred))
    return true;
  return getElementTypeOrSelf(inferred) == getElementTypeOrSelf(declared) &&
         succeeded(verifyCompatibleShape(inferred, declared));
}

ROSE_COMPATIBLE_RESULTS(EmbeddingOp)
ROSE_COMPATIBLE_RESULTS(PositionsOp)
ROSE_COMPATIBLE_RESULTS(MatMulOp)
ROSE_COMPATIBLE_RESULTS(LayerNormOp)
ROSE_COMPATIBLE_RESULTS(RotaryOp)
ROSE_COMPATIBLE_RESULTS(RmsNormOp)
ROSE_COMPATIBLE_RESULTS(SoftmaxOp)
ROSE_COMPATIBLE_RESULTS(AttentionOp)
ROSE_COMPATIBLE_RESULTS(ReshapeOp)
ROSE_COMPATIBLE_RESULTS(TransposeOp)
ROSE_COMPATIBLE_RESULTS(SplitOp)
ROSE_COMPATIBLE_RESULTS(ConcatOp)
ROSE_COMPATIBLE_RESULTS(SliceOp)
ROSE_COMPATIBLE_RESULTS(AllReduceOp)
ROSE_COMPATIBLE_RESULTS(AllGatherOp)
ROSE_COMPATIBLE_RESULTS(AllToAllOp)
ROSE_COMPATIBLE_RESULTS(ReduceScatterOp)
ROSE_COMPATIBLE_RESULTS(ShardSliceOp)
#undef ROSE_COMPATIBLE_RESULTS

//===----------------------------------------------------------------------===//
// ParamOp
//===----------------------------------------------------------------------===//

LogicalResult ParamOp::verify() {
  if (getName().empty())
    return emitOpError("param name must not be empty");
  if (!getType().hasStaticShape())
    return emitOpError() << "param '" << getName()
                         << "' must have a static shape, got " << getType();
  WeightSliceAttr slice = getSliceAttr();
  if (std::optional<ArrayRef<int64_t>> repeat = getRepeat()) {
    ArrayRef<int64_t> r = *repeat;
    if (slice || r.size() != 3 || r[0] < 0 || r[0] >= getType().getRank() ||
        r[1] < 1 || r[2] < 1 || getType().getDimSize(r[0]) % (r[1] * r[2]))
      return emitOpError()
             << "param '" << getName()
             << "': repeat must be [dim, blocks, times] with blocks x times "
                "dividing that dim, on a param not yet sliced";
  }
  if (!slice)
    return success();
  ArrayRef<int64_t> local = getType().getShape(), full = slice.getFull();
  if (local.size() != full.size())
    return emitOpError() << "param '" << getName() << "' has rank "
                         << local.size() << " but its slice's full shape "
                         << formatShape(full) << " has rank " << full.size();
  int64_t dim = slice.getDim();
  if (dim >= static_cast<int64_t>(full.size()))
    return emitOpError() << "slice dim " << dim << " is out of range for rank "
                         << full.size();
  for (int64_t d = 0, e = full.size(); d < e; ++d) {
    int64_t expected =
        d == dim ? llvm::divideCeil(full[d], slice.getParts()) : full[d];
    if (local[d] != expected)
      return emitOpError() << "param '" << getName() << "' has size "
                           << local[d] << " in dim " << d << ", but slicing "
                           << formatShape(full) << " gives " << expected;
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Compute ops
//===----------------------------------------------------------------------===//

static FailureOr<Shape> embeddingShape(EmbeddingOp::Adaptor op,
                                       const Reporter &r) {
  RankedTensorType table = rankedType(op.getTable());
  if (table.getRank() != 2)
    return r.fail("table must be rank 2 [vocab, dim], got rank ",
                  table.getRank());
  if (std::optional<int64_t> shards = op.getVocabShards();
      shards && *shards < 1)
    return r.fail("vocab_shards must be >= 1, got ", *shards);
  Shape shape(rankedType(op.getIndices()).getShape());
  shape.push_back(table.getDimSize(1));
  return shape;
}
ROSE_SINGLE_RESULT_SHAPE_FN(EmbeddingOp, embeddingShape, getTable)

static FailureOr<Shape> positionsShape(PositionsOp::Adaptor op,
                                       const Reporter &r) {
  RankedTensorType input = rankedType(op.getInput());
  if (input.getRank() < 1)
    return r.fail("input must have rank >= 1");
  // ODS returns I64Attr values as uint64_t; rose attributes are signed.
  if (int64_t offset = op.getOffset(); offset < 0)
    return r.fail("offset must be >= 0, got ", offset);
  return Shape(input.getShape());
}
ROSE_SINGLE_RESULT_SHAPE_FN(PositionsOp, positionsShape, getInput)

static FailureOr<Shape> matmulShape(MatMulOp::Adaptor op, const Reporter &r) {
  RankedTensorType lhs = rankedType(op.getLhs());
  RankedTensorType rhs = rankedType(op.getRhs());
  if (lhs.getRank() < 2)
    return r.fail("lhs must have rank >= 2, got rank ", lhs.getRank());
  if (rhs.getRank() < 2)
    return r.fail("rhs must have rank >= 2, got rank ", rhs.getRank());
  if (failed(sameElementType(op.getLhs(), "lhs", op.getRhs(), "rhs", r)))
    return failure();
  bool transposed = op.getTransposeRhs();
  int64_t k = lhs.getShape().back();
  int64_t rhsK = rhs.getDimSize(rhs.getRank() - (transposed ? 1 : 2));
  int64_t n = rhs.getDimSize(rhs.getRank() - (transposed ? 2 : 1));
  if (!dimsAgree(k, rhsK))
    return r.fail("contracting dims differ: lhs has ", k, ", rhs has ", rhsK,
                  transposed ? " (rhs is transposed)" : "");
  FailureOr<Shape> shape =
      broadcastShapes(lhs.getShape().drop_back(2), rhs.getShape().drop_back(2),
                      "batch dims: lhs and rhs", r);
  if (failed(shape))
    return failure();
  if (Value bias = op.getBias()) {
    RankedTensorType biasType = rankedType(bias);
    if (biasType.getRank() != 1)
      return r.fail("bias must be 1-D, got rank ", biasType.getRank());
    if (!dimsAgree(biasType.getDimSize(0), n))
      return r.fail("bias has ", biasType.getDimSize(0),
                    " elements, expected N = ", n);
    if (failed(sameElementType(bias, "bias", op.getLhs(), "lhs", r)))
      return failure();
  }
  shape->push_back(lhs.getDimSize(lhs.getRank() - 2));
  shape->push_back(n);
  return shape;
}
ROSE_SINGLE_RESULT_SHAPE_FN(MatMulOp, matmulShape, getLhs)

static FailureOr<Shape> layerNormShape(LayerNormOp::Adaptor op,
                                       const Reporter &r) {
  RankedTensorType input = rankedType(op.getInput());
  if (input.getRank() < 1)
    return r.fail("input must have rank >= 1");
  int64_t dim = input.getShape().back();
  for (auto [value, name] :
       {std::pair(op.getScale(), "scale"), std::pair(op.getBias(), "bias")}) {
    RankedTensorType type = rankedType(value);
    if (type.getRank() != 1)
      return r.fail(name, " must be 1-D, got rank ", type.getRank());
    if (!dimsAgree(type.getDimSize(0), dim))
      return r.fail(name, " has ", type.getDimSize(0), " elements, expected ",
                    dim, " (the last dim of input)");
    if (failed(sameElementType(value, name, op.getInput(), "input", r)))
      return failure();
  }
  if (!(op.getEpsilon().convertToDouble() > 0.0))
    return r.fail("epsilon must be positive, got ",
                  op.getEpsilon().convertToDouble());
  return Shape(input.getShape());
}
ROSE_SINGLE_RESULT_SHAPE_FN(LayerNormOp, layerNormShape, getInput)

static FailureOr<Shape> rmsNormShape(RmsNormOp::Adaptor op, const Reporter &r) {
  RankedTensorType input = rankedType(op.getInput());
  if (input.getRank() < 1)
    return r.fail("input must have rank >= 1");
  RankedTensorType scale = rankedType(op.getScale());
  if (scale.getRank() != 1)
    return r.fail("scale must be 1-D, got rank ", scale.getRank());
  if (!dimsAgree(scale.getDimSize(0), input.getShape().back()))
    return r.fail("scale has ", scale.getDimSize(0), " elements, expected ",
                  input.getShape().back(), " (the last dim of input)");
  if (failed(
          sameElementType(op.getScale(), "scale", op.getInput(), "input", r)))
    return failure();
  if (!(op.getEpsilon().convertToDouble() > 0.0))
    return r.fail("epsilon must be positive, got ",
                  op.getEpsilon().convertToDouble());
  return Shape(input.getShape());
}
ROSE_SINGLE_RESULT_SHAPE_FN(RmsNormOp, rmsNormShape, getInput)

static FailureOr<Shape> rotaryShape(RotaryOp::Adaptor op, const Reporter &r) {
  RankedTensorType x = rankedType(op.getInput());
  RankedTensorType pos = rankedType(op.getPositions());
  if (x.getRank() != 3)
    return r.fail("input must be rank 3 [batch, seq, heads * head_dim], got "
                  "rank ",
                  x.getRank());
  if (pos.getRank() != 2 || !dimsAgree(pos.getDimSize(0), x.getDimSize(0)) ||
      !dimsAgree(pos.getDimSize(1), x.getDimSize(1)))
    return r.fail("positions ", op.getPositions().getType(),
                  " must be [batch, seq] of input ", x);
  int64_t heads = op.getNumHeads(), hidden = x.getDimSize(2);
  if (heads <= 0)
    return r.fail("num_heads must be positive, got ", heads);
  if (!ShapedType::isDynamic(hidden) && hidden % heads != 0)
    return r.fail("num_heads = ", heads, " does not divide the hidden size ",
                  hidden);
  int64_t pairs = op.getInvFreq().size();
  if (pairs == 0)
    return r.fail("inv_freq must not be empty");
  if (!ShapedType::isDynamic(hidden) && 2 * pairs > hidden / heads)
    return r.fail("inv_freq has ", pairs, " frequencies: rotating ", 2 * pairs,
                  " dims exceeds the head dim ", hidden / heads);
  return Shape(x.getShape());
}
ROSE_SINGLE_RESULT_SHAPE_FN(RotaryOp, rotaryShape, getInput)

static FailureOr<Shape> softmaxShape(SoftmaxOp::Adaptor op, const Reporter &r) {
  RankedTensorType input = rankedType(op.getInput());
  if (failed(normalizeAxis(op.getAxis(), input.getRank(), "axis", r)))
    return failure();
  return Shape(input.getShape());
}
ROSE_SINGLE_RESULT_SHAPE_FN(SoftmaxOp, softmaxShape, getInput)

static FailureOr<Shape> attentionShape(AttentionOp::Adaptor op,
                                       const Reporter &r) {
  RankedTensorType query = rankedType(op.getQuery());
  if (query.getRank() != 3)
    return r.fail("query must be rank 3 [batch, seq, heads * head_dim], got "
                  "rank ",
                  query.getRank());
  int64_t heads = op.getNumHeads();
  if (heads <= 0)
    return r.fail("num_heads must be positive, got ", heads);
  if (op.getWindow() && (*op.getWindow() <= 0 || !op.getCausal()))
    return r.fail("a sliding window must be positive and causal, got window ",
                  *op.getWindow());
  int64_t kvHeads = op.getKvHeads() ? *op.getKvHeads() : heads;
  if (kvHeads <= 0 || heads % kvHeads != 0)
    return r.fail("kv_heads = ", kvHeads,
                  " must be positive and divide "
                  "num_heads = ",
                  heads);
  int64_t hidden = query.getDimSize(2);
  if (!ShapedType::isDynamic(hidden) && hidden % heads != 0)
    return r.fail("num_heads = ", heads, " does not divide the hidden size ",
                  hidden);
  // k and v: [batch, seq, kv_heads * head_dim].
  SmallVector<int64_t> kvShape(query.getShape());
  if (!ShapedType::isDynamic(hidden))
    kvShape[2] = hidden / heads * kvHeads;
  RankedTensorType kvType =
      RankedTensorType::get(kvShape, query.getElementType());
  for (auto [value, name] :
       {std::pair(op.getKey(), "key"), std::pair(op.getValue(), "value")})
    if (!isCompatibleResultType(value.getType(), kvType) ||
        rankedType(value).getRank() != 3)
      return r.fail(name, " type ", value.getType(),
                    " does not fit query type ", query, " with ", kvHeads,
                    " kv heads: expected ", kvType);
  if (std::optional<APFloat> scale = op.getScale();
      scale && !(scale->convertToDouble() > 0.0))
    return r.fail("scale must be positive, got ", scale->convertToDouble());
  return Shape(query.getShape());
}
ROSE_SINGLE_RESULT_SHAPE_FN(AttentionOp, attentionShape, getQuery)

//===----------------------------------------------------------------------===//
// Shape ops
//===----------------------------------------------------------------------===//

static FailureOr<Shape> reshapeShape(ReshapeOp::Adaptor op, const Reporter &r) {
  ArrayRef<int64_t> in = rankedType(op.getInput()).getShape();
  ArrayRef<int64_t> spec = op.getShape();
  Shape out(spec);
  std::optional<size_t> inferIndex;
  // Dims copied with 0 pair an input dim with an output dim, so they drop out
  // of the element-count comparison even when dynamic.
  llvm::SmallBitVector copied(in.size());
  for (auto [i, d] : llvm::enumerate(spec)) {
    if (d < -1)
      return r.fail("shape entry ", d, " at index ", i,
                    " is invalid (use -1 to infer a dim, 0 to copy one)");
    if (d == -1) {
      if (inferIndex)
        return r.fail("shape has more than one -1 (at indices ", *inferIndex,
                      " and ", i, ")");
      inferIndex = i;
    } else if (d == 0) {
      if (i >= in.size())
        return r.fail("shape entry 0 at index ", i, " copies a dim the rank-",
                      in.size(), " input lacks");
      out[i] = in[i];
      copied.set(i);
    }
  }
  // nullopt: a dynamic dim (count unknown); -1: the count overflows.
  auto product = [](ArrayRef<int64_t> dims, const llvm::SmallBitVector &skip,
                    bool skipNegative) -> std::optional<int64_t> {
    std::optional<int64_t> p = 1;
    for (auto [i, d] : llvm::enumerate(dims)) {
      if (i < skip.size() && skip.test(i))
        continue;
      if (skipNegative && d == -1)
        continue;
      if (ShapedType::isDynamic(d))
        return std::nullopt;
      if (!(p = ::rose::checkedMul(*p, d)))
        return -1;
    }
    return p;
  };
  std::optional<int64_t> inCount = product(in, copied, false);
  std::optional<int64_t> outCount = product(out, copied, true);
  if (inCount == -1 || outCount == -1)
    return r.fail("reshape from ", formatShape(in), " to ", formatShape(out),
                  ": element count overflows");
  if (inferIndex) {
    out[*inferIndex] = ShapedType::kDynamic;
    if (inCount && outCount) {
      if (*outCount == 0 || *inCount % *outCount != 0)
        return r.fail("cannot infer the -1 dim: ", *inCount,
                      " elements are not divisible by ", *outCount);
      out[*inferIndex] = *inCount / *outCount;
    }
  } else if (inCount && outCount && *inCount != *outCount) {
    return r.fail("reshape from ", formatShape(in), " to ", formatShape(out),
                  " changes the element count from ", *inCount, " to ",
                  *outCount);
  }
  return out;
}
ROSE_SINGLE_RESULT_SHAPE_FN(ReshapeOp, reshapeShape, getInput)

static FailureOr<Shape> transposeShape(TransposeOp::Adaptor op,
                                       const Reporter &r) {
  ArrayRef<int64_t> in = rankedType(op.getInput()).getShape();
  ArrayRef<int64_t> perm = op.getPermutation();
  llvm::SmallBitVector seen(in.size());
  bool valid = perm.size() == in.size();
  for (int64_t p : perm) {
    if (!valid || p < 0 || p >= static_cast<int64_t>(in.size()) ||
        seen.test(p)) {
      valid = false;
      break;
    }
    seen.set(p);
  }
  if (!valid)
    return r.fail("permutation ", formatShape(perm),
                  " is not a permutation of 0..", int64_t(in.size()) - 1);
  Shape out;
  for (int64_t p : perm)
    out.push_back(in[p]);
  return out;
}
ROSE_SINGLE_RESULT_SHAPE_FN(TransposeOp, transposeShape, getInput)

static FailureOr<SmallVector<Shape>> splitShapes(SplitOp::Adaptor op,
                                                 const Reporter &r) {
  RankedTensorType input = rankedType(op.getInput());
  FailureOr<int64_t> axis =
      normalizeAxis(op.getAxis(), input.getRank(), "axis", r);
  if (failed(axis))
    return failure();
  int64_t total = 0;
  SmallVector<Shape> shapes;
  for (auto [i, size] : llvm::enumerate(op.getSizes())) {
    if (size <= 0)
      return r.fail("split size ", size, " at index ", i, " must be positive");
    std::optional<int64_t> sum = ::rose::checkedAdd(total, size);
    if (!sum)
      return r.fail("split sizes overflow at index ", i);
    total = *sum;
    shapes.emplace_back(input.getShape());
    shapes.back()[*axis] = size;
  }
  if (shapes.empty())
    return r.fail("sizes must not be empty");
  int64_t dim = input.getDimSize(*axis);
  if (!ShapedType::isDynamic(dim) && dim != total)
    return r.fail("split sizes sum to ", total, " but axis ", *axis,
                  " has size ", dim);
  return shapes;
}

LogicalResult SplitOp::inferReturnTypes(MLIRContext *, std::optional<Location>,
                                        Adaptor adaptor,
                                        SmallVectorImpl<Type> &types) {
  Type element = getElementTypeOrSelf(adaptor.getInput().getType());
  FailureOr<SmallVector<Shape>> shapes =
      allRanked(adaptor.getOperands())
          ? splitShapes(adaptor, Reporter())
          : FailureOr<SmallVector<Shape>>(failure());
  if (failed(shapes)) {
    // One unranked entry per requested piece keeps the result count right.
    types.append(std::max<size_t>(adaptor.getSizes().size(), 1),
                 UnrankedTensorType::get(element));
    return success();
  }
  for (const Shape &shape : *shapes)
    types.push_back(RankedTensorType::get(shape, element));
  return success();
}

LogicalResult SplitOp::verify() {
  FailureOr<SmallVector<Shape>> shapes =
      splitShapes(Adaptor(*this), Reporter([&] { return emitOpError(); }));
  if (failed(shapes))
    return failure();
  if (shapes->size() != getNumResults())
    return emitOpError() << "has " << getNumResults() << " results but "
                         << shapes->size() << " split sizes";
  Type element = getInput().getType().getElementType();
  for (auto [i, shape] : llvm::enumerate(*shapes))
    if (failed(verifyResultType(*this, i, shape, element)))
      return failure();
  return success();
}

static FailureOr<Shape> concatShape(ConcatOp::Adaptor op, const Reporter &r) {
  ValueRange inputs = op.getInputs();
  if (inputs.empty())
    return r.fail("needs at least one input");
  RankedTensorType first = rankedType(inputs.front());
  FailureOr<int64_t> axis =
      normalizeAxis(op.getAxis(), first.getRank(), "axis", r);
  if (failed(axis))
    return failure();
  Shape out(first.getShape());
  for (auto [i, value] : llvm::enumerate(inputs.drop_front())) {
    RankedTensorType type = rankedType(value);
    size_t index = i + 1;
    if (type.getRank() != first.getRank())
      return r.fail("input ", index, " has rank ", type.getRank(),
                    ", expected ", first.getRank());
    if (failed(sameElementType(value, "input " + std::to_string(index),
                               inputs.front(), "input 0", r)))
      return failure();
    for (int64_t d = 0; d < type.getRank(); ++d) {
      int64_t size = type.getDimSize(d);
      if (d == *axis) {
        std::optional<int64_t> sum =
            ShapedType::isDynamic(out[d]) || ShapedType::isDynamic(size)
                ? std::optional<int64_t>(ShapedType::kDynamic)
                : ::rose::checkedAdd(out[d], size);
        if (!sum)
          return r.fail("concatenated size along dim ", d,
                        " overflows at input ", index);
        out[d] = *sum;
      } else if (!dimsAgree(out[d], size)) {
        return r.fail("input ", index, " has size ", size, " in dim ", d,
                      ", expected ", out[d]);
      } else if (ShapedType::isDynamic(out[d])) {
        out[d] = size;
      }
    }
  }
  return out;
}
LogicalResult ConcatOp::inferReturnTypes(MLIRContext *context,
                                         std::optional<Location>,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &types) {
  if (adaptor.getInputs().empty()) {
    types.push_back(UnrankedTensorType::get(Float32Type::get(context)));
    return success();
  }
  if (!allRanked(adaptor.getOperands()))
    return pushInferred(types, adaptor.getInputs().front(), failure());
  return pushInferred(types, adaptor.getInputs().front(),
                      concatShape(adaptor, Reporter()));
}

LogicalResult ConcatOp::verify() {
  FailureOr<Shape> shape =
      concatShape(Adaptor(*this), Reporter([&] { return emitOpError(); }));
  if (failed(shape))
    return failure();
  return verifyResultType(*this, 0, *shape,
                          getElementTypeOrSelf(getInputs().front()));
}

static FailureOr<Shape> sliceShape(SliceOp::Adaptor op, const Reporter &r) {
  RankedTensorType input = rankedType(op.getInput());
  FailureOr<int64_t> axis =
      normalizeAxis(op.getAxis(), input.getRank(), "axis", r);
  if (failed(axis))
    return failure();
  int64_t start = op.getStart(), end = op.getEnd();
  if (start < 0 || end <= start)
    return r.fail("slice [", start, ", ", end,
                  ") must satisfy 0 <= start < end");
  int64_t dim = input.getDimSize(*axis);
  if (!ShapedType::isDynamic(dim) && end > dim)
    return r.fail("slice end ", end, " exceeds size ", dim, " of axis ", *axis);
  Shape out(input.getShape());
  out[*axis] = end - start;
  return out;
}
ROSE_SINGLE_RESULT_SHAPE_FN(SliceOp, sliceShape, getInput)

//===----------------------------------------------------------------------===//
// Collectives
//===----------------------------------------------------------------------===//

/// Checks the group and, when `dim` is given, the gathered/scattered dim.
template <typename Adaptor>
static FailureOr<int64_t>
checkCollective(Adaptor op, std::optional<int64_t> dim, const Reporter &r) {
  if (op.getAxis().empty())
    return r.fail("axis name must not be empty");
  if (int64_t group = op.getGroupSize(); group < 1)
    return r.fail("group_size must be >= 1, got ", group);
  if (!dim)
    return -1;
  int64_t rank = rankedType(op.getInput()).getRank();
  if (*dim < 0 || *dim >= rank)
    return r.fail("dim ", *dim, " is out of range for rank ", rank);
  return *dim;
}

/// Shape after keeping one of `group_size` chunks of `dim`.
template <typename Adaptor>
static FailureOr<Shape> chunkShape(Adaptor op, const Reporter &r) {
  FailureOr<int64_t> dim = checkCollective(op, op.getDim(), r);
  if (failed(dim))
    return failure();
  Shape out(rankedType(op.getInput()).getShape());
  int64_t size = out[*dim], group = op.getGroupSize();
  if (!ShapedType::isDynamic(size)) {
    if (size % group != 0)
      return r.fail("dim ", *dim, " of size ", size,
                    " is not divisible by group_size ", group);
    out[*dim] = size / group;
  }
  return out;
}
ROSE_SINGLE_RESULT_SHAPE_FN(ReduceScatterOp, chunkShape, getInput)
ROSE_SINGLE_RESULT_SHAPE_FN(ShardSliceOp, chunkShape, getInput)

static FailureOr<Shape> allGatherShape(AllGatherOp::Adaptor op,
                                       const Reporter &r) {
  FailureOr<int64_t> dim = checkCollective(op, op.getDim(), r);
  if (failed(dim))
    return failure();
  Shape out(rankedType(op.getInput()).getShape());
  if (!ShapedType::isDynamic(out[*dim])) {
    std::optional<int64_t> size =
        ::rose::checkedMul(out[*dim], static_cast<int64_t>(op.getGroupSize()));
    if (!size)
      return r.fail("gathered size of dim ", *dim, " overflows");
    out[*dim] = *size;
  }
  return out;
}
ROSE_SINGLE_RESULT_SHAPE_FN(AllGatherOp, allGatherShape, getInput)

static FailureOr<Shape> allToAllShape(AllToAllOp::Adaptor op,
                                      const Reporter &r) {
  FailureOr<int64_t> split = checkCollective(op, op.getSplitDim(), r);
  if (failed(split) || failed(checkCollective(op, op.getConcatDim(), r)))
    return failure();
  int64_t concat = op.getConcatDim(), group = op.getGroupSize();
  if (*split == concat)
    return r.fail("split and concat dims must differ, both are ", concat);
  Shape out(rankedType(op.getInput()).getShape());
  if (!ShapedType::isDynamic(out[*split])) {
    if (out[*split] % group != 0)
      return r.fail("dim ", *split, " of size ", out[*split],
                    " is not divisible by group_size ", group);
    out[*split] /= group;
  }
  if (!ShapedType::isDynamic(out[concat])) {
    std::optional<int64_t> size = ::rose::checkedMul(out[concat], group);
    if (!size)
      return r.fail("gathered size of dim ", concat, " overflows");
    out[concat] = *size;
  }
  return out;
}
ROSE_SINGLE_RESULT_SHAPE_FN(AllToAllOp, allToAllShape, getInput)

static FailureOr<Shape> allReduceShape(AllReduceOp::Adaptor op,
                                       const Reporter &r) {
  if (failed(checkCollective(op, std::nullopt, r)))
    return failure();
  return Shape(rankedType(op.getInput()).getShape());
}
ROSE_SINGLE_RESULT_SHAPE_FN(AllReduceOp, allReduceShape, getInput)

#define GET_OP_CLASSES
#include "dialect/RoseOps.cpp.inc"
