//===- OnnxValues.h - what the ONNX importer knows about a value -*- C++
//-*-===//
//
// An ONNX value can be more than a tensor while importing: a piece of shape
// arithmetic (folded at import), a small constant, or a weight. Every other
// value is a rose tensor; nothing waits for a pattern to complete.
//
//===----------------------------------------------------------------------===//
#ifndef ROSE_FRONTEND_ONNXVALUES_H
#define ROSE_FRONTEND_ONNXVALUES_H

#include "mlir/IR/Value.h"
#include "llvm/ADT/SmallVector.h"

#include <cmath>
#include <limits>
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
  /// The leading dims of a tensor flattened into one (batch x seq: not an
  /// affine dim, so only a view; see Entry::merged).
  static constexpr int kMerged = 1 << 30;
  static SymDim merged() { return {0, kMerged}; }
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

/// Everything known about one ONNX value.
struct Entry {
  Value tensor;                              // a materialized activation
  SymShape shape;                            // its symbolic shape
  std::optional<Literal> literal;            // a small constant
  std::optional<SymShape> shapeVector;       // int64 shape arithmetic
  bool shapeScalar = false;                  // shapeVector is a 0-D scalar
  const onnx::TensorProto *weight = nullptr; // an initializer
  bool boolean = false; // an ONNX bool: 0/1 values (rose has no bool type)
  /// `shape` views the tensor with its leading dims flattened into one
  /// (Hugging Face's Conv1D: x.view(-1, d), addmm, view back). Only Gemm and
  /// the Reshape back read such a value; rose keeps the unflattened tensor.
  bool merged = false;
};

} // namespace mlir::rose::onnx_import

#endif // ROSE_FRONTEND_ONNXVALUES_H
