//===- rose-opt.cpp - the mlir-opt of rose
//---------------------------------===//
//
// Parses, verifies, transforms and prints rose IR. Registers only the dialects
// a rose model uses, plus MLIR's generic passes (canonicalize, cse, ...).
//
//===----------------------------------------------------------------------===//
#include "dialect/RoseDialect.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::registerTransformsPasses();
  mlir::rose::registerRosePasses();
  mlir::rose::registerRosePipelines();

  mlir::DialectRegistry registry;
  registry.insert<mlir::rose::RoseDialect, mlir::func::FuncDialect,
                  mlir::arith::ArithDialect, mlir::tensor::TensorDialect>();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "rose optimizer driver\n", registry));
}
