//===- RoseElementwiseOps.cpp - shape functions of elementwise ops --------===//
//
// Unary maps, binary ops and `where` with numpy broadcasting, and the
// one-axis reductions (ShapeFunctions.h says how a shape function serves
// inference and the verifier).
//
//===----------------------------------------------------------------------===//
#include "dialect/RoseOps.h"
#include "dialect/ShapeFunctions.h"

using namespace mlir;
using namespace mlir::rose;
using namespace mlir::rose::shape_fn;

#define ROSE_ELEMENTWISE_OP(OP, FN, LIKE)                                      \
  ROSE_COMPATIBLE_RESULTS(OP)                                                  \
  ROSE_SINGLE_RESULT_SHAPE_FN(OP, FN, LIKE)

template <typename Adaptor>
static FailureOr<Shape> binaryShape(Adaptor op, const Reporter &r) {
  if (failed(sameElementType(op.getLhs(), "lhs", op.getRhs(), "rhs", r)))
    return failure();
  return broadcastShapes(rankedType(op.getLhs()).getShape(),
                         rankedType(op.getRhs()).getShape(), "operand", r);
}
ROSE_ELEMENTWISE_OP(AddOp, binaryShape, getLhs)
ROSE_ELEMENTWISE_OP(SubOp, binaryShape, getLhs)
ROSE_ELEMENTWISE_OP(MulOp, binaryShape, getLhs)
ROSE_ELEMENTWISE_OP(DivOp, binaryShape, getLhs)
ROSE_ELEMENTWISE_OP(PowOp, binaryShape, getLhs)
ROSE_ELEMENTWISE_OP(MaxOp, binaryShape, getLhs)
ROSE_ELEMENTWISE_OP(MinOp, binaryShape, getLhs)
ROSE_ELEMENTWISE_OP(EqualOp, binaryShape, getLhs)
ROSE_ELEMENTWISE_OP(LessOp, binaryShape, getLhs)
ROSE_ELEMENTWISE_OP(GreaterOp, binaryShape, getLhs)

template <typename Adaptor>
static FailureOr<Shape> unaryShape(Adaptor op, const Reporter &) {
  return Shape(rankedType(op.getInput()).getShape());
}
ROSE_ELEMENTWISE_OP(GeluOp, unaryShape, getInput)
ROSE_ELEMENTWISE_OP(ReluOp, unaryShape, getInput)
ROSE_ELEMENTWISE_OP(SiluOp, unaryShape, getInput)
ROSE_ELEMENTWISE_OP(NegOp, unaryShape, getInput)
ROSE_ELEMENTWISE_OP(ExpOp, unaryShape, getInput)
ROSE_ELEMENTWISE_OP(SqrtOp, unaryShape, getInput)
ROSE_ELEMENTWISE_OP(ReciprocalOp, unaryShape, getInput)
ROSE_ELEMENTWISE_OP(TanhOp, unaryShape, getInput)
ROSE_ELEMENTWISE_OP(ErfOp, unaryShape, getInput)
ROSE_ELEMENTWISE_OP(SigmoidOp, unaryShape, getInput)
ROSE_ELEMENTWISE_OP(CosOp, unaryShape, getInput)
ROSE_ELEMENTWISE_OP(SinOp, unaryShape, getInput)
ROSE_ELEMENTWISE_OP(NotOp, unaryShape, getInput)

static FailureOr<Shape> whereShape(WhereOp::Adaptor op, const Reporter &r) {
  if (failed(sameElementType(op.getLhs(), "lhs", op.getRhs(), "rhs", r)) ||
      failed(sameElementType(op.getCondition(), "condition", op.getLhs(), "lhs",
                             r)))
    return failure();
  FailureOr<Shape> values =
      broadcastShapes(rankedType(op.getLhs()).getShape(),
                      rankedType(op.getRhs()).getShape(), "lhs and rhs", r);
  if (failed(values))
    return failure();
  return broadcastShapes(rankedType(op.getCondition()).getShape(), *values,
                         "condition and value", r);
}
ROSE_ELEMENTWISE_OP(WhereOp, whereShape, getLhs)

static FailureOr<Shape> reduceShape(ReduceOp::Adaptor op, const Reporter &r) {
  RankedTensorType input = rankedType(op.getInput());
  FailureOr<int64_t> axis =
      normalizeAxis(op.getAxis(), input.getRank(), "axis", r);
  if (failed(axis))
    return failure();
  Shape shape(input.getShape());
  shape[*axis] = 1;
  return shape;
}
ROSE_ELEMENTWISE_OP(ReduceOp, reduceShape, getInput)
