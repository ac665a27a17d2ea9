//===- RoseDialect.h - rose dialect, enums and attributes -------*- C++ -*-===//
#ifndef ROSE_DIALECT_ROSEDIALECT_H
#define ROSE_DIALECT_ROSEDIALECT_H

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"

#include "dialect/RoseDialect.h.inc"
#include "dialect/RoseEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "dialect/RoseAttrs.h.inc"

#endif // ROSE_DIALECT_ROSEDIALECT_H
