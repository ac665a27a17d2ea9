//===- LowerToProgram.h - rose IR to a runtime program file ----*- C++ -*-===//
#ifndef ROSE_PASSES_LOWERTOPROGRAM_H
#define ROSE_PASSES_LOWERTOPROGRAM_H

#include "mlir/IR/BuiltinOps.h"

#include <string>

namespace mlir::rose {

/// Statistics of a lowered function, for reports.
struct ProgramStats {
  int64_t ops = 0, values = 0, params = 0;
  int64_t peakBytesPerToken = 0;  // with liveness-based reuse
  int64_t naiveBytesPerToken = 0; // one buffer per value
};

/// Lowers `main` (a module after the TP pipeline) and, when given, `dense`
/// (the same model at tp=1, for --check-against) into the bytes of a program
/// file. Fails with diagnostics on the offending op.
/// `version` overrides the format version (0: the current one), so tests can
/// make files "from another version".
FailureOr<std::string> lowerToProgram(ModuleOp main, ModuleOp dense,
                                      llvm::StringRef weightsPath,
                                      ProgramStats *stats = nullptr,
                                      unsigned version = 0);

} // namespace mlir::rose

#endif // ROSE_PASSES_LOWERTOPROGRAM_H
