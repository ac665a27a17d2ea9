//===- OnnxImporterImpl.h - the ONNX importer's internals -------*- C++ -*-===//
#ifndef ROSE_FRONTEND_ONNXIMPORTERIMPL_H
#define ROSE_FRONTEND_ONNXIMPORTERIMPL_H

#include "dialect/RoseOps.h"
#include "frontend/OnnxTensors.h"
#include "frontend/OnnxValues.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"

#include <onnx/onnx_pb.h>

namespace mlir::rose::onnx_import {

llvm::Error makeError(const llvm::Twine &message);

class Importer;
using Handler = llvm::Error (Importer::*)();
using HandlerTable = llvm::StringMap<Handler>;

/// Imports one ONNX model; see OnnxImporter.h.
class Importer {
public:
  Importer(MLIRContext &context, llvm::StringRef path,
           llvm::StringRef weightsPath);
  llvm::Expected<OwningOpRef<ModuleOp>> run();

private:
  /// A weight the import uses, written to the new safetensors file.
  struct WeightUse {
    std::string name;
    const onnx::TensorProto *source;
    bool transposed;
  };

  static const HandlerTable &handlers();

  // The node being translated: errors, attributes and inputs.
  llvm::Error fail(const llvm::Twine &why) const;
  const onnx::AttributeProto *attr(llvm::StringRef name) const;
  int64_t attrInt(llvm::StringRef name, int64_t fallback) const;
  double attrFloat(llvm::StringRef name, double fallback) const;
  std::optional<std::vector<int64_t>> attrInts(llvm::StringRef name) const;
  size_t numInputs() const;
  llvm::Expected<Entry *> input(size_t i);
  Entry &output(size_t i);
  llvm::Expected<Literal> literalInput(size_t i);
  llvm::Expected<std::optional<double>> scalarInput(size_t i);
  llvm::Expected<SymShape> shapeInput(size_t i);

  // Tensors and their symbolic shapes.
  Type elementTypeOf(::rose::DType dtype);
  llvm::Expected<Value> param(const onnx::TensorProto &init,
                              llvm::StringRef name, bool transpose);
  llvm::Expected<Value> tensor(size_t i);
  SymShape staticShape(llvm::ArrayRef<int64_t> dims);
  SymShape shapeOf(Value v);
  llvm::Expected<SymShape> broadcast(const SymShape &a, const SymShape &b);
  std::string formatSym(const SymShape &shape) const;
  void setTensor(Entry &e, Value v, SymShape shape);
  llvm::Expected<Value> reshapeTo(Value input, const SymShape &target);

  // Driver.
  llvm::Error declareInputs(const onnx::GraphProto &graph);
  llvm::Expected<OwningOpRef<ModuleOp>> finish(const std::string &output);
  llvm::Error writeWeights();
  llvm::Expected<std::optional<Value>>
  headWeight(const onnx::TensorProto &init);

  // Handlers, one per op type or family (OnnxHandlers.cpp, OnnxCompute.cpp,
  // OnnxElementwise.cpp).
  llvm::Error onConstant();
  llvm::Error onIdentity();
  llvm::Error onCast();
  llvm::Error onShape();
  llvm::Error onGather();
  llvm::Error onUnsqueeze();
  llvm::Error onSqueeze();
  llvm::Error onConcat();
  llvm::Error onRange();
  llvm::Error onReshape();
  llvm::Error onTranspose();
  llvm::Error onMatMul();
  llvm::Error onGemm();
  llvm::Error onBinary();
  llvm::Error onUnary();
  llvm::Error onReduce();
  llvm::Error onLayerNorm();
  llvm::Error onSoftmax();
  llvm::Error onSplit();
  llvm::Error onSlice();
  llvm::Error onExpand();
  llvm::Error onConstantOfShape();
  llvm::Error onTrilu();
  llvm::Error onWhere();

  /// Output 0 as `in` (its tensor x) reshaped: a rose reshape for floats,
  /// a view for integer tensors (unit dims only).
  llvm::Error reshapeEntry(const Entry &in, Value x, const SymShape &shape);
  /// A tensor of `value` with `shape`, its dynamic dims the graph input's.
  Value fillOf(const SymShape &shape, double value);
  /// 0 .. n-1 for the dynamic dim `d` (one of the graph input's).
  llvm::Expected<Value> iotaOf(SymDim d);

  MLIRContext &context;
  std::string path, weightsPath;
  onnx::ModelProto model;
  TensorReader reader;
  OpBuilder b;
  Location loc;
  OwningOpRef<ModuleOp> module;
  func::FuncOp function;
  const onnx::NodeProto *node = nullptr;

  llvm::StringMap<Entry> values;
  llvm::StringMap<const onnx::TensorProto *> initializers;
  llvm::StringMap<Value> params;
  llvm::DenseMap<Value, SymShape> symShapes;
  std::vector<WeightUse> weightsToWrite;
  std::vector<std::string> symbolNames;
  Value inputIds;
  std::string graphOutput;
};

} // namespace mlir::rose::onnx_import

#endif // ROSE_FRONTEND_ONNXIMPORTERIMPL_H
