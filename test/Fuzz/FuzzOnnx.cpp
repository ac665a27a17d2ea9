//===- FuzzOnnx.cpp - fuzz the ONNX importer
//-------------------------------===//
#include "FuzzUtil.h"
#include "frontend/OnnxImporter.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string path = rose::fuzz::writeScratch("model.onnx", data, size);
  // Single-threaded: a thread pool makes coverage, so seeded runs, vary.
  mlir::MLIRContext context(mlir::MLIRContext::Threading::DISABLED);
  mlir::ScopedDiagnosticHandler quiet(
      &context, [](mlir::Diagnostic &) { return mlir::success(); });
  auto module = mlir::rose::importOnnx(
      context, path, rose::fuzz::scratchDir() + "/weights.safetensors");
  if (!module)
    llvm::consumeError(module.takeError());
  return 0;
}
