//===- ShapeFunctions.h - helpers of the ops' shape functions ---*- C++ -*-===//
//
// Private to the dialect's .cpp files: each op has one shape function that
// serves two callers, best-effort result type inference (silent, yields an
// unranked tensor on inconsistent operands) and the verifier (reports the
// first problem, naming operand and numbers).
//
//===----------------------------------------------------------------------===//
#ifndef ROSE_DIALECT_SHAPEFUNCTIONS_H
#define ROSE_DIALECT_SHAPEFUNCTIONS_H

#include "dialect/RoseOps.h"

#include "mlir/IR/TypeUtilities.h"

namespace mlir::rose::shape_fn {

using Shape = SmallVector<int64_t>;

/// Emits diagnostics for the verifier and stays silent during inference.
class Reporter {
public:
  explicit Reporter(function_ref<InFlightDiagnostic()> emit = nullptr)
      : emit(emit) {}

  template <typename... Args> LogicalResult fail(const Args &...args) const {
    if (emit) {
      InFlightDiagnostic diag = emit();
      (diag << ... << args);
    }
    return failure();
  }

private:
  function_ref<InFlightDiagnostic()> emit;
};

inline RankedTensorType rankedType(Value v) {
  return cast<RankedTensorType>(v.getType());
}

/// Dims of `a` and `b` agree unless both are inline and differ.
inline bool dimsAgree(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

/// Normalizes `axis` (negative counts from the back) against `rank`.
inline FailureOr<int64_t> normalizeAxis(int64_t axis, int64_t rank,
                                        StringRef what, const Reporter &r) {
  if (axis < -rank || axis >= rank)
    return r.fail(what, " ", axis, " is out of range for rank ", rank);
  return axis < 0 ? axis + rank : axis;
}

inline LogicalResult sameElementType(Value a, StringRef aName, Value b,
                                     StringRef bName, const Reporter &r) {
  Type ea = getElementTypeOrSelf(a.getType());
  Type eb = getElementTypeOrSelf(b.getType());
  if (ea != eb)
    return r.fail(aName, " element type ", ea, " differs from ", bName,
                  " element type ", eb);
  return success();
}

/// Numpy broadcasting; a dynamic dim against a inline one takes the static
/// size unless that size is 1.
inline FailureOr<Shape> broadcastShapes(ArrayRef<int64_t> a,
                                        ArrayRef<int64_t> b, StringRef what,
                                        const Reporter &r) {
  size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < a.size() ? a[a.size() - 1 - i] : 1;
    int64_t db = i < b.size() ? b[b.size() - 1 - i] : 1;
    int64_t &d = out[rank - 1 - i];
    if (da == db || db == 1)
      d = da;
    else if (da == 1)
      d = db;
    else if (ShapedType::isDynamic(da))
      d = db;
    else if (ShapedType::isDynamic(db))
      d = da;
    else
      return r.fail(what, " shapes ", formatShape(a), " and ", formatShape(b),
                    " do not broadcast");
  }
  return out;
}

/// Checks a declared result type against the inferred shape and element type.
inline LogicalResult verifyResultType(Operation *op, unsigned index,
                                      ArrayRef<int64_t> shape, Type element) {
  Type inferred = RankedTensorType::get(shape, element);
  Type declared = op->getResult(index).getType();
  if (isCompatibleResultType(inferred, declared))
    return success();
  return op->emitOpError() << "result #" << index << " type " << declared
                           << " does not match the inferred type " << inferred;
}

/// Pushes the inferred type: ranked when the shape function succeeded.
inline LogicalResult pushInferred(SmallVectorImpl<Type> &types, Value like,
                                  FailureOr<Shape> shape) {
  Type elementType = getElementTypeOrSelf(like.getType());
  if (failed(shape))
    types.push_back(UnrankedTensorType::get(elementType));
  else
    types.push_back(RankedTensorType::get(*shape, elementType));
  return success();
}

/// Builders infer result types before anything is verified, so an operand
/// may still be unranked (an earlier op's failed inference) or not a tensor:
/// shape functions, which read ranked shapes, must not see those.
inline bool allRanked(ValueRange operands) {
  return llvm::all_of(operands, [](Value v) {
    return v && isa<RankedTensorType>(v.getType());
  });
}

// Result types are compared in verify() (see verifyResultType), where the
// message can name both types; the interface's own check would add a second,
// generic error, so it accepts everything.
#define ROSE_COMPATIBLE_RESULTS(OP)                                            \
  bool OP::isCompatibleReturnTypes(TypeRange l, TypeRange r) { return true; }
// Wires an op's shape function into inference and verification.
#define ROSE_SINGLE_RESULT_SHAPE_FN(OP, FN, LIKE)                              \
  LogicalResult OP::inferReturnTypes(MLIRContext *, std::optional<Location>,   \
                                     Adaptor adaptor,                          \
                                     SmallVectorImpl<Type> &types) {           \
    if (!shape_fn::allRanked(adaptor.getOperands()))                           \
      return shape_fn::pushInferred(types, adaptor.LIKE(), failure());         \
    return shape_fn::pushInferred(types, adaptor.LIKE(),                       \
                                  FN(adaptor, shape_fn::Reporter()));          \
  }                                                                            \
  LogicalResult OP::verify() {                                                 \
    Adaptor adaptor(*this);                                                    \
    FailureOr<Shape> shape =                                                   \
        FN(adaptor, shape_fn::Reporter([&] { return emitOpError(); }));        \
    if (failed(shape))                                                         \
      return failure();                                                        \
    return shape_fn::verifyResultType(                                         \
        *this, 0, *shape, getElementTypeOrSelf(adaptor.LIKE().getType()));     \
  }

} // namespace mlir::rose::shape_fn

#endif // ROSE_DIALECT_SHAPEFUNCTIONS_H
