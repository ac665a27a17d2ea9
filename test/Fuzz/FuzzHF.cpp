//===- FuzzHF.cpp - fuzz the Hugging Face checkpoint importer
//--------------===//
//
// Input: 2 bytes of config.json length, config.json, then model.safetensors.
//
//===----------------------------------------------------------------------===//
#include "FuzzUtil.h"
#include "frontend/HFCheckpoint.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2)
    return 0;
  size_t configSize = std::min<size_t>(size - 2, data[0] | (data[1] << 8));
  rose::fuzz::writeScratch("config.json", data + 2, configSize);
  rose::fuzz::writeScratch("model.safetensors", data + 2 + configSize,
                           size - 2 - configSize);
  // Single-threaded: a thread pool makes coverage, so seeded runs, vary.
  mlir::MLIRContext context(mlir::MLIRContext::Threading::DISABLED);
  mlir::ScopedDiagnosticHandler quiet(
      &context, [](mlir::Diagnostic &) { return mlir::success(); });
  auto module =
      mlir::rose::importHFCheckpoint(context, rose::fuzz::scratchDir());
  if (!module)
    llvm::consumeError(module.takeError());
  return 0;
}
