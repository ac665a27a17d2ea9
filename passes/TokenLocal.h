//===- TokenLocal.h - which ops act on each token alone --------*- C++ -*-===//
//
// Generation runs the model on the new tokens only; the earlier tokens live
// on as the KV cache. That is the same function as the full forward pass
// exactly when every op but causal attention acts on each token alone: the
// check below proves it op by op from the lowered shapes (which dims grow
// with `seq`), so a graph that mixes tokens some other way (an attention
// left as matmuls, a mask built from iota, a sequence-parallel plan) is
// refused by name rather than generated wrongly.
//
//===----------------------------------------------------------------------===//
#ifndef ROSE_PASSES_TOKENLOCAL_H
#define ROSE_PASSES_TOKENLOCAL_H

#include "passes/AffineShape.h"

#include "mlir/IR/Operation.h"
#include "llvm/ADT/STLFunctionalExtras.h"

#include <optional>
#include <string>

namespace mlir::rose {

/// Why `op` mixes tokens (nullopt: it acts on each token alone, or is
/// causal attention). `shapeOf` gives a lowered value's shape (null for
/// params and constants, whose dims are static).
std::optional<std::string>
tokenMixing(Operation *op,
            llvm::function_ref<const AffineShape *(Value)> shapeOf);

} // namespace mlir::rose

#endif // ROSE_PASSES_TOKENLOCAL_H
