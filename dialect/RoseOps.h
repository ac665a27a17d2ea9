//===- RoseOps.h - rose dialect operations ----------------------*- C++ -*-===//
#ifndef ROSE_DIALECT_ROSEOPS_H
#define ROSE_DIALECT_ROSEOPS_H

#include "dialect/RoseDialect.h"
#include "dialect/ShardingRule.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir::rose {
/// Result-type compatibility for rose's best-effort inference: an unranked
/// inferred type (the operands were inconsistent; the verifier says why) is
/// compatible with anything, otherwise shapes must agree wherever both are
/// static and element types must match.
bool isCompatibleResultType(Type inferred, Type declared);

/// Formats a shape as "[2, ?, 768]" for diagnostics.
std::string formatShape(ArrayRef<int64_t> shape);
} // namespace mlir::rose

#include "dialect/RoseShardingInterface.h.inc"

#define GET_OP_CLASSES
#include "dialect/RoseOps.h.inc"

#endif // ROSE_DIALECT_ROSEOPS_H
