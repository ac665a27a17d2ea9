//===- HFCheckpoint.h - import Hugging Face GPT-2 checkpoints ---*- C++ -*-===//
#ifndef ROSE_FRONTEND_HFCHECKPOINT_H
#define ROSE_FRONTEND_HFCHECKPOINT_H

#include "frontend/GPTBuilder.h"

#include "llvm/Support/Error.h"

namespace mlir::rose {

/// Reads config.json of a GPT-2 checkpoint directory. Errors name the file and
/// the field.
llvm::Expected<GPTConfig> readHFConfig(llvm::StringRef configPath);

/// Imports `dir` (config.json + model.safetensors, HF names with or without
/// the `transformer.` prefix, Conv1D [in, out] weights, tied or separate
/// lm_head.weight) into rose IR whose params name the checkpoint's own
/// tensors; no weight is copied.
llvm::Expected<OwningOpRef<ModuleOp>> importHFCheckpoint(MLIRContext &context,
                                                         llvm::StringRef dir);

} // namespace mlir::rose

#endif // ROSE_FRONTEND_HFCHECKPOINT_H
