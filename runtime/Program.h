//===- Program.h - loading and validating program files ---------*- C++ -*-===//
//
// A program file (FlatBuffers, runtime/Program.fbs) holds the SPMD function
// every TP rank runs, its static memory plan and where the weights are. It
// is validated once at load (FlatBuffers verifier, version, every index and
// shape), so executors can trust it.
//
//===----------------------------------------------------------------------===//
#ifndef ROSE_RUNTIME_PROGRAM_H
#define ROSE_RUNTIME_PROGRAM_H

#include "runtime/MappedFile.h"
#include "runtime/Program_generated.h"
#include "runtime/Shape.h"
#include "runtime/Status.h"

#include <memory>
#include <string>
#include <vector>

namespace rose {

/// Incremented on any incompatible change to Program.fbs.
inline constexpr uint32_t kProgramVersion = 1;

/// A loaded, validated program file.
class Program {
public:
  static StatusOr<std::shared_ptr<Program>> load(const std::string &path);
  /// Validates an in-memory program (the compiler checks what it wrote).
  static Status validate(const uint8_t *data, size_t size,
                         const std::string &what);

  const fb::Program &root() const { return *root_; }
  const fb::Function &main() const { return *root_->main(); }
  /// The tp=1 program, or nullptr when the file has none.
  const fb::Function *dense() const { return root_->dense(); }
  const std::string &path() const { return path_; }

private:
  std::shared_ptr<MappedFile> file_;
  const fb::Program *root_ = nullptr;
  std::string path_;
};

/// Bytes per element of a program element type.
size_t elementSize(fb::ElementType type);

/// A value's shape, [batch, seq, dims...] (the checker passes symbols).
std::vector<int64_t> valueShape(const fb::Function &fn, int32_t value,
                                int64_t batch, int64_t seq);
/// A param's rank-local shape.
std::vector<int64_t> paramShape(const fb::Function &fn, int32_t param);
/// An operand's shape: its param's or its value's.
std::vector<int64_t> operandShape(const fb::Function &fn,
                                  const fb::Operand *operand, int64_t batch,
                                  int64_t seq);

} // namespace rose

#endif // ROSE_RUNTIME_PROGRAM_H
