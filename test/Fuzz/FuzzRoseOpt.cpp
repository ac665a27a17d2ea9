//===- FuzzRoseOpt.cpp - fuzz parsing, verification and the passes --------===//
//
// Parses the input as rose IR; IR that verifies goes through the TP pipeline
// (tp=2) and lowering, and a copy through raising and collective
// simplification, none of which may crash on verifier-valid IR.
//
//===----------------------------------------------------------------------===//
#include "dialect/RoseDialect.h"
#include "passes/LowerToProgram.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // Single-threaded: a thread pool makes coverage, so seeded runs, vary.
  mlir::MLIRContext context(mlir::MLIRContext::Threading::DISABLED);
  context.loadDialect<mlir::rose::RoseDialect, mlir::func::FuncDialect>();
  mlir::ScopedDiagnosticHandler quiet(
      &context, [](mlir::Diagnostic &) { return mlir::success(); });
  std::string text(reinterpret_cast<const char *>(data), size);
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceString<mlir::ModuleOp>(text, &context);
  if (!module || failed(mlir::verify(*module)))
    return 0;
  mlir::OwningOpRef<mlir::ModuleOp> copy = module->clone();
  mlir::PassManager pm(&context);
  mlir::rose::TPPipelineOptions options;
  options.tp = 2;
  mlir::rose::buildTPPipeline(pm, options);
  if (succeeded(pm.run(*module)))
    (void)mlir::rose::lowerToProgram(*module, mlir::ModuleOp(), "w");
  mlir::PassManager simplify(&context);
  simplify.addPass(mlir::rose::createRoseRaise());
  simplify.addPass(mlir::rose::createRoseCollectiveSimplify());
  (void)simplify.run(*copy);
  return 0;
}
