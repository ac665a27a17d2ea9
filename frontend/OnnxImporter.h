//===- OnnxImporter.h - import GPT-2-style ONNX models ----------*- C++ -*-===//
#ifndef ROSE_FRONTEND_ONNXIMPORTER_H
#define ROSE_FRONTEND_ONNXIMPORTER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/Error.h"

namespace mlir::rose {

/// Imports an ONNX file as `torch.onnx.export(..., opset_version=17)` writes
/// a GPT-2-style model: folds shape arithmetic, recognises linear layers,
/// LayerNorm, GELU (tanh and erf forms), causal attention and position ids,
/// and writes the weights it uses to `weightsPath` (safetensors) once. A tied
/// LM head (a transposed copy of the token embedding) becomes the embedding
/// with `transpose_rhs`. Errors name the node, its op type and why.
llvm::Expected<OwningOpRef<ModuleOp>> importOnnx(MLIRContext &context,
                                                 llvm::StringRef onnxPath,
                                                 llvm::StringRef weightsPath);

} // namespace mlir::rose

#endif // ROSE_FRONTEND_ONNXIMPORTER_H
