//===- Program.h - loading, validating and laying out programs --*- C++ -*-===//
//
// A program file (FlatBuffers, runtime/Program.fbs) holds the SPMD entry
// points every rank runs, the params they share, the device mesh, and
// symbolic value shapes. It is validated once at load (FlatBuffers verifier,
// version, every index, and every op's shapes at sample bindings of the
// symbols); each call then binds the symbols from its inputs, checks the ops
// at that binding and plans the arena (CallLayout), so executors can trust
// every shape and offset they read.
//
//===----------------------------------------------------------------------===//
#ifndef ROSE_RUNTIME_PROGRAM_H
#define ROSE_RUNTIME_PROGRAM_H

#include "runtime/MappedFile.h"
#include "runtime/Program_generated.h"
#include "runtime/Shape.h"
#include "runtime/Status.h"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace rose {

/// The largest dim a shape may have: keeps every size computed from shapes
/// exact (and fuzzing cheap).
inline constexpr int64_t kMaxDim = int64_t(1) << 40;

/// Incremented on any incompatible change to Program.fbs: the version this
/// compiler writes. Version 3 added persistent buffers (Program.buffers,
/// Value.buffer, CacheWrite), which a version 2 reader would misread; a
/// version 2 file is a version 3 file without them, so it still loads.
inline constexpr uint32_t kProgramVersion = 3;
inline constexpr uint32_t kOldestProgramVersion = 2;

using Shape = std::vector<int64_t>;

/// One entry point of a program, with the program-level tables it reads.
struct Entry {
  const fb::Program *program = nullptr;
  const fb::Function *fn = nullptr;

  /// The number of ranks (the product of the mesh axes).
  int64_t ranks() const;
  /// The size of mesh axis `axis`.
  int64_t axisSize(int32_t axis) const;
  /// Rank `rank`'s coordinate on mesh axis `axis` (ranks are row-major over
  /// the axes, the last varying fastest).
  int coord(int rank, int32_t axis) const;
  std::string name() const;
  int32_t input() const { return fn->inputs()->Get(0); }
  int32_t output() const { return fn->outputs()->Get(0); }
  const fb::Param *param(int32_t index) const {
    return program->params()->Get(index);
  }
  const fb::Value *value(int32_t index) const {
    return fn->values()->Get(index);
  }
  /// True when an op of this entry reads param `index` (a rank loads only
  /// those: the dense entry's whole tensors stay unloaded otherwise).
  std::vector<bool> usedParams() const;
};

/// A loaded, validated program file.
class Program {
public:
  static StatusOr<std::shared_ptr<Program>> load(const std::string &path);
  /// Validates an in-memory program (the compiler checks what it wrote).
  static Status validate(const uint8_t *data, size_t size,
                         const std::string &what);

  const fb::Program &root() const { return *root_; }
  /// The entry rose-run runs (functions[0]).
  Entry main() const { return {root_, root_->functions()->Get(0)}; }
  /// The entry named `name`, if the program has one.
  std::optional<Entry> entry(const std::string &name) const;
  const std::string &path() const { return path_; }

private:
  std::shared_ptr<MappedFile> file_;
  const fb::Program *root_ = nullptr;
  std::string path_;
};

/// Bytes per element of a program element type.
size_t elementSize(fb::ElementType type);

/// The shape of a param as a rank holds it.
Shape paramShape(const fb::Param &param);

/// Values of the symbols a call binds besides batch and seq ("past").
using SymbolValues = std::map<std::string, int64_t>;

/// What one call of an entry needs: the symbols' values, every value's
/// shape, and the arena plan (first-fit over the values' lifetimes, 64-byte
/// aligned offsets).
struct CallLayout {
  std::vector<int64_t> symbols; // -1: not bound by this call
  std::vector<Shape> shapes;
  std::vector<int64_t> offsets; // -1 for values in persistent buffers
  int64_t arenaBytes = 0;       // the plan's peak
  int64_t naiveBytes = 0;       // without reuse
};

/// Binds the entry's symbols from the token ids' [batch, seq] and `extra`,
/// evaluates every value's shape (exact divisions: a seq that tp does not
/// divide is an error naming the value; a dim over a symbol the call does
/// not bind is an error naming the symbol), checks every op at those
/// shapes, and plans the arena. Errors are one line.
StatusOr<CallLayout> layoutCall(const Entry &entry, int64_t batch, int64_t seq,
                                const SymbolValues &extra = {});

/// A dim's value at a call's symbols (CallLayout::symbols); `what` names
/// its owner in the error.
StatusOr<int64_t> evalDim(const fb::Program &program, const fb::Dim &dim,
                          const std::vector<int64_t> &symbols,
                          const std::string &what);

/// The checks of every op at one binding (ProgramCheck.cpp): operand and
/// result shapes, element types, attributes, SSA order.
Status checkOps(const Entry &entry, const std::vector<Shape> &shapes);

/// The first-fit arena plan of `shapes` (the compiler prints its size).
StatusOr<CallLayout> planArena(const Entry &entry, std::vector<Shape> shapes);

/// An operand's shape at a binding: its param's or its value's.
inline const Shape &operandShape(const std::vector<Shape> &shapes,
                                 const std::vector<Shape> &paramShapes,
                                 const fb::Operand *operand) {
  return operand->param() >= 0 ? paramShapes[operand->param()]
                               : shapes[operand->value()];
}

/// Every param's rank-local shape, by index.
std::vector<Shape> paramShapes(const fb::Program &program);

/// "MatMul" for an op.
const char *opName(const fb::Op &op);

/// True for ops that exchange data between ranks.
bool isCollective(const fb::Op &op);
/// The mesh axis a collective runs over; -1 for other ops.
int32_t collectiveAxis(const fb::Op &op);

} // namespace rose

#endif // ROSE_RUNTIME_PROGRAM_H
