//===- OnnxTensors.h - ONNX initializer and constant data -------*- C++ -*-===//
#ifndef ROSE_FRONTEND_ONNXTENSORS_H
#define ROSE_FRONTEND_ONNXTENSORS_H

#include "frontend/OnnxValues.h"
#include "runtime/DType.h"
#include "runtime/MappedFile.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Error.h"

#include <onnx/onnx_pb.h>

namespace mlir::rose::onnx_import {

/// The bytes of one tensor, borrowed from the model (raw_data, external data)
/// or decoded into `owned` (typed repeated fields).
struct TensorBytes {
  ::rose::DType dtype;
  std::vector<int64_t> dims;
  const uint8_t *data = nullptr;
  size_t size = 0;
  std::vector<uint8_t> owned;
  int64_t numElements() const;
};

/// Reads tensor data, including ONNX external data relative to the model's
/// directory (mapped once per file).
class TensorReader {
public:
  explicit TensorReader(std::string modelDir) : modelDir(std::move(modelDir)) {}

  llvm::Expected<TensorBytes> read(const onnx::TensorProto &tensor);
  /// Small tensors (Constant nodes, shape operands) as a Literal.
  /// The tensor's values; more than `maxElements` is an error (a weight
  /// used where only a constant may go).
  llvm::Expected<Literal> literal(const onnx::TensorProto &tensor,
                                  int64_t maxElements = 4096);

private:
  std::string modelDir;
  llvm::StringMap<std::shared_ptr<::rose::MappedFile>> externalFiles;
};

/// Values of a float tensor as floats (F32, F16, BF16 or F64 data).
std::vector<float> toFloats(const TensorBytes &bytes);

} // namespace mlir::rose::onnx_import

#endif // ROSE_FRONTEND_ONNXTENSORS_H
