//===- RaisePatterns.h - the patterns --rose-raise recognises ---*- C++ -*-===//
//
// Shared by Raise.cpp (the pass, GELU, SiLU and the norms) and
// RaiseAttention.cpp (attention, rotary embeddings, repeat_kv).
//
//===----------------------------------------------------------------------===//
#ifndef ROSE_PASSES_RAISEPATTERNS_H
#define ROSE_PASSES_RAISEPATTERNS_H

#include "dialect/RoseOps.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace mlir::rose::raise {

inline bool near(double a, double b) {
  return std::fabs(a - b) <= 1e-6 * std::max(1.0, std::fabs(b));
}

/// The other operand of a binary op whose one operand is `v`.
inline Value otherOperand(Operation *op, Value v) {
  if (op->getNumOperands() != 2)
    return nullptr;
  if (op->getOperand(0) == v)
    return op->getOperand(1);
  if (op->getOperand(1) == v)
    return op->getOperand(0);
  return nullptr;
}

/// matmul(a, transpose(b)) with the transpose swapping b's last two dims:
/// the matmul reads b transposed instead.
bool foldTranspose(MatMulOp m);

/// softmax(mask(scale * q k^T)) v per head, merged back: rose.attention.
/// `why` says what did not match.
LogicalResult raiseAttention(SoftmaxOp softmax, std::string &why);

/// x * cos + rotate_half(x) * sin on heads split from [batch, seq, heads *
/// dim], with cos/sin tables that are the rotary angles of the positions:
/// rose.rotary. Anchored on rotate_half's concat; `why` is empty when the
/// concat is not a rotate_half at all.
LogicalResult raiseRotary(ConcatOp concat, std::string &why);

} // namespace mlir::rose::raise

#endif // ROSE_PASSES_RAISEPATTERNS_H
