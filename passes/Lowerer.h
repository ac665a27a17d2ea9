//===- Lowerer.h - the pieces of the rose-to-program lowering ---*- C++ -*-===//
//
// Internal to passes/: LowerToProgram.cpp (the driver, values, ops, the
// generation entries), LowerShapes.cpp (the symbolic shape of each result)
// and LowerAttributes.cpp (each op's typed attribute table) share the
// Lowerer declared here.
//
//===----------------------------------------------------------------------===//
#ifndef ROSE_PASSES_LOWERER_H
#define ROSE_PASSES_LOWERER_H

#include "dialect/RoseOps.h"
#include "passes/AffineShape.h"
#include "passes/ShardingPlan.h"
#include "runtime/Program.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/TypeUtilities.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

#include <array>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mlir::rose::lowering {

namespace fb = ::rose::fb;

inline FailureOr<fb::ElementType> elementType(Operation *op, Type type) {
  Type e = getElementTypeOrSelf(type);
  if (e.isF32())
    return fb::ElementType::F32;
  if (e.isF16())
    return fb::ElementType::F16;
  if (e.isBF16())
    return fb::ElementType::BF16;
  if (e.isInteger(64))
    return fb::ElementType::I64;
  if (e.isInteger(32))
    return fb::ElementType::I32;
  return op->emitError() << "rose-compile: unsupported element type " << e;
}

inline int64_t normalizedAxis(int64_t axis, int64_t rank) {
  return axis < 0 ? axis + rank : axis;
}

/// Params shared by the program's entry points, deduplicated.
struct ParamTable {
  ParamTable(flatbuffers::FlatBufferBuilder &fbb, int32_t sliceAxis)
      : fbb(fbb), sliceAxis(sliceAxis) {}
  flatbuffers::FlatBufferBuilder &fbb;
  int32_t sliceAxis; // the mesh axis params are sliced over (tp)
  std::vector<flatbuffers::Offset<fb::Param>> params;
  std::map<std::string, int32_t> ids; // by name + shape + slice
  llvm::DenseMap<Operation *, int32_t> constants;

  FailureOr<int32_t> get(ParamOp param);
  /// A float constant, its values stored in the program.
  FailureOr<int32_t> get(ConstantOp constant);
};

struct LoweredValue {
  std::string name;
  fb::ElementType type;
  AffineShape shape;
  int32_t buffer = -1; // a persistent buffer (the KV cache)
};

inline flatbuffers::Offset<fb::Dim>
lowerDim(flatbuffers::FlatBufferBuilder &fbb, const AffineDim &d) {
  std::vector<fb::Term> terms;
  for (int s = 0; s < kNumSymbols; ++s)
    if (d.coeff[s])
      terms.emplace_back(s, d.coeff[s]);
  return fb::CreateDimDirect(fbb, d.constant, &terms, d.divisor);
}

/// The KV cache the generation entries share: two buffers per attention op
/// (its k and v), in program order, [batch, max_seq, the rank's k/v
/// columns].
struct KvCache {
  int64_t maxSeq = 0;
  std::vector<LoweredValue> buffers;
};

class Lowerer {
public:
  /// With `cache`, lowers a generation step: the token ids are the new
  /// tokens, each attention writes its k and v into the cache at `past`
  /// and attends to the past + seq rows there, positions start at `past`.
  /// With `lastRowOnly` too (the prefill entry), the ops after the last
  /// attention that lead only to the logits run on each sequence's last
  /// position: generation needs no other logits.
  Lowerer(flatbuffers::FlatBufferBuilder &fbb, ParamTable &params, int64_t tp,
          std::vector<std::string> mesh, KvCache *cache = nullptr,
          bool lastRowOnly = false)
      : fbb(fbb), params(params), tp(tp), mesh(std::move(mesh)), cache(cache),
        lastRowOnly(lastRowOnly) {}
  FailureOr<flatbuffers::Offset<fb::Function>> lower(ModuleOp module,
                                                     StringRef name);
  int64_t vocab = 0;
  int64_t numOps = 0, numValues = 0;
  /// Fuse a matmul's only-user GELU into it (LoweringOptions).
  bool fuse = true;
  /// Collectives lowered, by op name ("rose.all_reduce": 4).
  std::map<std::string, int64_t> collectives;

private:
  FailureOr<int32_t> defineValue(Value v, const std::string &name,
                                 AffineShape shape);
  FailureOr<fb::Operand> operand(Value v);
  FailureOr<AffineShape> resultShape(Operation *op, Value result,
                                     unsigned index);
  FailureOr<flatbuffers::Offset<void>> attributes(Operation *op,
                                                  fb::OpAttrs &kind);
  LogicalResult lowerOp(Operation *op);
  LogicalResult lowerCachedAttention(AttentionOp op, fb::Operand q,
                                     std::array<fb::Operand, 2> kv,
                                     int32_t result, const std::string &layer);
  /// Generation is impossible because of `op`: records why and fails.
  LogicalResult refuse(Operation *op, const std::string &why) {
    std::string layer = layerName(op);
    refused = (layer.empty() ? "" : "'" + layer + "': ") + why;
    return failure();
  }

  /// The last row along seq of `v` (a value of the call), sliced once.
  FailureOr<int32_t> lastRow(Value v);

public:
  /// Why this function cannot be a generation step (set when lower()
  /// failed for that reason and emitted nothing).
  std::optional<std::string> refused;
  /// lastRowOnly could not slice a value (its seq dim is not one whole
  /// dim) or shape the tail: lower again without it.
  bool lastRowFailed = false;
  /// Values cut to their last row (0: the tail was empty).
  size_t slicedRows() const { return lastRows.size(); }

private:
  flatbuffers::FlatBufferBuilder &fbb;
  ParamTable &params;
  int64_t tp;
  std::vector<std::string> mesh; // axis names, in mesh order
  /// Index of a mesh axis, or -1.
  int32_t axisIndex(llvm::StringRef axis) const {
    auto it = llvm::find(mesh, axis.str());
    return it == mesh.end() ? -1 : static_cast<int32_t>(it - mesh.begin());
  }
  FailureOr<int32_t> collectiveAxis(Operation *op);
  std::vector<LoweredValue> values;
  std::vector<flatbuffers::Offset<fb::Op>> ops;
  llvm::DenseMap<Value, int32_t> valueIds;
  std::vector<int32_t> checkpoints;
  KvCache *cache;
  size_t attentions = 0; // attention ops lowered so far (cache buffer pairs)
  bool lastRowOnly;
  /// Ops every use of which leads to the result without passing an
  /// attention: token-local (the cache lowering refuses any other op) and,
  /// but for positions, functions of their inputs' rows alone, so the
  /// result's last row needs only their inputs' last rows.
  llvm::DenseSet<Operation *> tail;
  llvm::DenseMap<Value, int32_t> lastRows;
  /// Ops fused into the op that defines their operand (a matmul's GELU
  /// epilogue), with that operand.
  llvm::DenseMap<Operation *, Value> fusedInto;
};

} // namespace mlir::rose::lowering

#endif // ROSE_PASSES_LOWERER_H
