//===- RoseIndexOps.cpp - shape-derived tensors and gathers ---------------===//
//
// Shape functions of iota and fill (tensors computed from a reference
// value's dims), trilu and gather (ShapeFunctions.h says how a shape
// function serves inference and the verifier).
//
//===----------------------------------------------------------------------===//
#include "dialect/RoseOps.h"
#include "dialect/ShapeFunctions.h"

#include "mlir/IR/Builders.h"

using namespace mlir;
using namespace mlir::rose;
using namespace mlir::rose::shape_fn;

// Like ROSE_SINGLE_RESULT_SHAPE_FN, with a fixed result element type.
#define ROSE_TYPED_RESULT_SHAPE_FN(OP, FN, ELEMENT)                            \
  ROSE_COMPATIBLE_RESULTS(OP)                                                  \
  LogicalResult OP::inferReturnTypes(MLIRContext *context,                     \
                                     std::optional<Location>, Adaptor adaptor, \
                                     SmallVectorImpl<Type> &types) {           \
    Type element = ELEMENT(context);                                           \
    FailureOr<Shape> shape = shape_fn::allRanked(adaptor.getOperands())        \
                                 ? FN(adaptor, shape_fn::Reporter())           \
                                 : FailureOr<Shape>(failure());                \
    types.push_back(succeeded(shape)                                           \
                        ? Type(RankedTensorType::get(*shape, element))         \
                        : Type(UnrankedTensorType::get(element)));             \
    return success();                                                          \
  }                                                                            \
  LogicalResult OP::verify() {                                                 \
    Adaptor adaptor(*this);                                                    \
    FailureOr<Shape> shape =                                                   \
        FN(adaptor, shape_fn::Reporter([&] { return emitOpError(); }));        \
    if (failed(shape))                                                         \
      return failure();                                                        \
    return shape_fn::verifyResultType(*this, 0, *shape,                        \
                                      ELEMENT(getContext()));                  \
  }

static Type i64Type(MLIRContext *context) {
  return IntegerType::get(context, 64);
}
static Type f32Type(MLIRContext *context) { return Float32Type::get(context); }

static FailureOr<Shape> iotaShape(IotaOp::Adaptor op, const Reporter &r) {
  RankedTensorType ref = rankedType(op.getRef());
  FailureOr<int64_t> dim = normalizeAxis(op.getDim(), ref.getRank(), "dim", r);
  if (failed(dim))
    return failure();
  return Shape{ref.getDimSize(*dim)};
}
ROSE_TYPED_RESULT_SHAPE_FN(IotaOp, iotaShape, i64Type)

static FailureOr<Shape> castShape(CastOp::Adaptor op, const Reporter &) {
  return Shape(rankedType(op.getInput()).getShape());
}
ROSE_TYPED_RESULT_SHAPE_FN(CastOp, castShape, f32Type)

static FailureOr<Shape> fillShape(FillOp::Adaptor op, const Reporter &r) {
  RankedTensorType ref = rankedType(op.getRef());
  Shape shape;
  for (int64_t d : op.getDims()) {
    if (d < 0) {
      shape.push_back(-d);
      continue;
    }
    if (d >= ref.getRank())
      return r.fail("dims entry ", d, " is out of range for the ref's rank ",
                    ref.getRank(), " (a negative entry -n is a static size n)");
    shape.push_back(ref.getDimSize(d));
  }
  return shape;
}
ROSE_TYPED_RESULT_SHAPE_FN(FillOp, fillShape, f32Type)

static FailureOr<Shape> triluShape(TriluOp::Adaptor op, const Reporter &r) {
  RankedTensorType input = rankedType(op.getInput());
  if (input.getRank() < 2)
    return r.fail("input must have rank >= 2, got rank ", input.getRank());
  return Shape(input.getShape());
}
ROSE_COMPATIBLE_RESULTS(TriluOp)
ROSE_SINGLE_RESULT_SHAPE_FN(TriluOp, triluShape, getInput)

static FailureOr<Shape> gatherShape(GatherOp::Adaptor op, const Reporter &r) {
  RankedTensorType input = rankedType(op.getInput());
  FailureOr<int64_t> axis =
      normalizeAxis(op.getAxis(), input.getRank(), "axis", r);
  if (failed(axis))
    return failure();
  ArrayRef<int64_t> in = input.getShape();
  Shape shape(in.begin(), in.begin() + *axis);
  llvm::append_range(shape, rankedType(op.getIndices()).getShape());
  shape.append(in.begin() + *axis + 1, in.end());
  return shape;
}
ROSE_COMPATIBLE_RESULTS(GatherOp)
ROSE_SINGLE_RESULT_SHAPE_FN(GatherOp, gatherShape, getInput)
