//===- OnnxValues.h - what the ONNX importer knows about a value -*- C++
//-*-===//
//
// An ONNX value can be more than a tensor while importing: a piece of shape
// arithmetic (folded at import), a small constant, a weight, or an unfinished
// pattern (half of a GELU, the per-head view of q in attention). Patterns are
// recognised forward, in the graph's topological order: each node extends the
// patterns of its inputs, and a pattern becomes a rose op when it completes.
//
//===----------------------------------------------------------------------===//
#ifndef ROSE_FRONTEND_ONNXVALUES_H
#define ROSE_FRONTEND_ONNXVALUES_H

#include "mlir/IR/Value.h"
#include "llvm/ADT/SmallVector.h"

#include <cmath>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace onnx {
class TensorProto;
} // namespace onnx

namespace mlir::rose::onnx_import {

/// One dim of a symbolic shape: a static size, or a named unknown (the
/// graph's batch and sequence dims).
struct SymDim {
  int64_t size = 0;
  int symbol = -1;
  static SymDim known(int64_t size) { return {size, -1}; }
  static SymDim unknown(int symbol) { return {0, symbol}; }
  bool isStatic() const { return symbol < 0; }
  bool operator==(const SymDim &o) const {
    return symbol == o.symbol && (symbol >= 0 || size == o.size);
  }
  bool operator!=(const SymDim &o) const { return !(*this == o); }
};
using SymShape = llvm::SmallVector<SymDim, 4>;

/// A literal's value as an integer. Integer literals are held as doubles, so
/// INT64_MAX (torch's "to the end" in Slice) arrives as 2^63, which a plain
/// cast turns into undefined behaviour: saturate instead (NaN becomes 0).
inline int64_t toInt64(double v) {
  if (std::isnan(v))
    return 0;
  if (v >= 9223372036854775807.0)
    return std::numeric_limits<int64_t>::max();
  if (v <= -9223372036854775808.0)
    return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(v);
}

/// A small constant: Constant nodes and folded arithmetic on them.
struct Literal {
  bool isInteger = false;
  llvm::SmallVector<int64_t, 4> dims;
  std::vector<double> values; // integers are exact up to 2^53
  int64_t numElements() const { return static_cast<int64_t>(values.size()); }
  bool isScalar() const { return values.size() == 1; }
};

/// A partially recognised pattern; which fields matter depends on `kind`.
struct Marker {
  enum Kind {
    Positions,  // Range(0, seq, 1)
    Filled,     // ConstantOfShape(shape, value)
    CausalMask, // Trilu of an all-true square; `flag`: true marks j > i
    Heads,      // q/k/v split into heads; `layout`
    Scores,     // q k^T * scale (+ causal mask)
    Probs,      // softmax(scores)
    Attention,  // probs v; `layout`
    Cube,       // x^3
    ScaledCube, // c * x^3
    TanhInner,  // x + 0.044715 x^3, then scaled by sqrt(2/pi)
    TanhOf,     // tanh(inner)
    ErfArg,     // x / sqrt(2)
    ErfOf,      // erf(x / sqrt(2))
    OnePlus,    // 1 + tanh(...) or 1 + erf(...); `flag`: tanh form
    ScaledX,    // c * x (also a real tensor)
    GeluTerm,   // c * x * (1 + f(x)); complete at c == 0.5
  };
  /// Attention layouts of the per-head views.
  enum Layout { BSHD, BHSD, BHDS };

  Kind kind;
  Value x, q, k, v;
  double c = 1.0;
  int64_t heads = 0;
  Layout layout = BSHD;
  bool flag = false;
  bool inner = false; // TanhInner: scaled by sqrt(2/pi) yet
  int symbol = -1;    // Positions: the sequence symbol
  std::vector<SymDim> shape;
};

/// Everything known about one ONNX value.
struct Entry {
  Value tensor;                              // a materialized activation
  SymShape shape;                            // its symbolic shape
  std::optional<Literal> literal;            // a small constant
  std::optional<SymShape> shapeVector;       // int64 shape arithmetic
  bool shapeScalar = false;                  // shapeVector is a 0-D scalar
  const onnx::TensorProto *weight = nullptr; // an initializer
  std::shared_ptr<Marker> marker;            // a pattern in progress
};

} // namespace mlir::rose::onnx_import

#endif // ROSE_FRONTEND_ONNXVALUES_H
