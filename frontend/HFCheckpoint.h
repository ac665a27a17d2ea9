//===- HFCheckpoint.h - import Hugging Face GPT-2 checkpoints ---*- C++ -*-===//
#ifndef ROSE_FRONTEND_HFCHECKPOINT_H
#define ROSE_FRONTEND_HFCHECKPOINT_H

#include "frontend/GPTBuilder.h"

#include "llvm/Support/Error.h"
#include <nlohmann/json_fwd.hpp>

namespace mlir::rose {

/// Reads and parses a config.json that must hold a JSON object; errors name
/// the file.
llvm::Expected<nlohmann::json> readConfigJson(llvm::StringRef configPath);

/// The GPT-2 fields of a parsed config.json (`configPath` names it in
/// errors). Errors name the file and the field.
llvm::Expected<GPTConfig> readHFConfig(const nlohmann::json &config,
                                       llvm::StringRef configPath);

/// Imports `dir` (config.json + model.safetensors, HF names with or without
/// the `transformer.` prefix, Conv1D [in, out] weights, tied or separate
/// lm_head.weight) into rose IR whose params name the checkpoint's own
/// tensors; no weight is copied.
llvm::Expected<OwningOpRef<ModuleOp>> importHFCheckpoint(MLIRContext &context,
                                                         llvm::StringRef dir);

} // namespace mlir::rose

#endif // ROSE_FRONTEND_HFCHECKPOINT_H
