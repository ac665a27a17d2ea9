//===- Program.cpp - loading and validating program files
//------------------===//
#include "runtime/Program.h"
#include "runtime/CheckedMath.h"

#include <flatbuffers/flatbuffers.h>

#include <cstring>
#include <vector>

using namespace rose;

size_t rose::elementSize(fb::ElementType type) {
  switch (type) {
  case fb::ElementType::F32:
  case fb::ElementType::I32:
    return 4;
  case fb::ElementType::F16:
  case fb::ElementType::BF16:
    return 2;
  case fb::ElementType::I64:
    return 8;
  }
  return 0;
}

std::vector<int64_t> rose::valueShape(const fb::Function &fn, int32_t value,
                                      int64_t batch, int64_t seq) {
  std::vector<int64_t> shape = {batch, seq};
  if (auto dims = fn.values()->Get(value)->dims())
    shape.insert(shape.end(), dims->begin(), dims->end());
  return shape;
}

std::vector<int64_t> rose::paramShape(const fb::Function &fn, int32_t param) {
  auto shape = fn.params()->Get(param)->shape();
  return {shape->begin(), shape->end()};
}

std::vector<int64_t> rose::operandShape(const fb::Function &fn,
                                        const fb::Operand *operand,
                                        int64_t batch, int64_t seq) {
  if (operand->param() >= 0)
    return paramShape(fn, operand->param());
  return valueShape(fn, operand->value(), batch, seq);
}

/// Operand/result counts and integer attribute counts each op kind needs.
static Status checkOp(const fb::Function &fn, const fb::Op &op, size_t index) {
  auto fail = [&](const auto &...args) {
    return Status::error("op #", index, " (", fb::EnumNameOpKind(op.kind()),
                         "): ", args...);
  };
  if (op.kind() < fb::OpKind::MIN || op.kind() > fb::OpKind::MAX)
    return Status::error("op #", index, ": unknown op kind ",
                         static_cast<int>(op.kind()));
  int64_t numValues = fn.values()->size();
  int64_t numParams = fn.params() ? fn.params()->size() : 0;
  if (!op.operands() || !op.results() || op.results()->size() == 0)
    return fail("missing operands or results");
  for (const fb::Operand *operand : *op.operands()) {
    bool isValue = operand->value() >= 0 && operand->value() < numValues &&
                   operand->param() < 0;
    bool isParam = operand->param() >= 0 && operand->param() < numParams &&
                   operand->value() < 0;
    if (!isValue && !isParam)
      return fail("operand out of range");
  }
  for (int32_t result : *op.results())
    if (result < 0 || result >= numValues)
      return fail("result out of range");
  size_t ints = op.ints() ? op.ints()->size() : 0;
  size_t floats = op.floats() ? op.floats()->size() : 0;
  size_t operands = op.operands()->size();
  auto need = [&](size_t minOperands, size_t maxOperands, size_t minInts,
                  size_t minFloats) -> Status {
    if (operands < minOperands || operands > maxOperands || ints < minInts ||
        floats < minFloats)
      return fail("malformed (", operands, " operands, ", ints, " ints, ",
                  floats, " floats)");
    return Status::success();
  };
  switch (op.kind()) {
  case fb::OpKind::Embedding:
    return need(2, 2, 1, 0);
  case fb::OpKind::Positions:
    return need(1, 1, 1, 0);
  case fb::OpKind::MatMul:
    return need(2, 3, 1, 0);
  case fb::OpKind::Add:
  case fb::OpKind::Sub:
  case fb::OpKind::Mul:
  case fb::OpKind::Div:
    return need(2, 2, 0, 0);
  case fb::OpKind::LayerNorm:
    return need(3, 3, 0, 1);
  case fb::OpKind::Gelu:
    return need(1, 1, 1, 0);
  case fb::OpKind::Softmax:
    return need(1, 1, 1, 0);
  case fb::OpKind::Attention:
    return need(3, 3, 2, 1);
  case fb::OpKind::Reshape:
    return need(1, 1, 0, 0);
  case fb::OpKind::Transpose:
    return need(1, 1, 2, 0);
  case fb::OpKind::Split:
    return need(1, 1, 2, 0);
  case fb::OpKind::Concat:
    return need(1, 64, 1, 0);
  case fb::OpKind::Slice:
    return need(1, 1, 3, 0);
  case fb::OpKind::Constant:
    return need(0, 0, 0, 1);
  case fb::OpKind::AllReduce:
    return need(1, 1, 0, 0);
  case fb::OpKind::AllGather:
  case fb::OpKind::ReduceScatter:
  case fb::OpKind::ShardSlice:
    return need(1, 1, 1, 0);
  }
  return fail("unknown op kind");
}

/// Shape and SSA checks of every op (ProgramCheck.cpp).
Status checkFunctionShapes(const fb::Function &fn);

/// The FlatBuffers verifier checks vectors for 4-byte alignment only; 8-byte
/// elements read from a misaligned address are undefined behaviour.
template <typename T> static bool aligned(const flatbuffers::Vector<T> *v) {
  // An empty vector has no elements to read, and no alignment guarantee.
  return !v || v->size() == 0 ||
         reinterpret_cast<uintptr_t>(v->data()) % alignof(T) == 0;
}

static bool allAligned(const fb::Function &fn) {
  if (fn.params())
    for (const fb::Param *p : *fn.params())
      if (!aligned(p->shape()) || !aligned(p->full_shape()))
        return false;
  if (fn.values())
    for (const fb::Value *v : *fn.values())
      if (!aligned(v->dims()))
        return false;
  if (fn.ops())
    for (const fb::Op *op : *fn.ops())
      if (!aligned(op->ints()) || !aligned(op->floats()))
        return false;
  return true;
}

/// The largest memory plan a program may ask for, per token (16 TiB).
static constexpr int64_t kMaxPeakBytesPerToken = int64_t(1) << 44;

static Status checkFunction(const fb::Function *fn, const char *which) {
  auto fail = [&](const auto &...args) {
    return Status::error(which, " function: ", args...);
  };
  if (!fn)
    return fail("missing");
  if (!allAligned(*fn))
    return fail("misaligned data");
  if (fn->tp() < 1 || fn->tp() > 1024)
    return fail("tp ", fn->tp(), " out of range");
  if (!fn->values() || !fn->ops())
    return fail("missing values or ops");
  int64_t numValues = fn->values()->size();
  if (fn->input() < 0 || fn->input() >= numValues || fn->output() < 0 ||
      fn->output() >= numValues)
    return fail("input/output out of range");
  // Bounded so that peak x batch x seq and every offset below are exact.
  if (fn->peak_bytes_per_token() < 0 ||
      fn->peak_bytes_per_token() > kMaxPeakBytesPerToken)
    return fail("memory plan peak ", fn->peak_bytes_per_token(),
                " bytes per token out of range");
  for (const fb::Value *v : *fn->values()) {
    // The compiler places buffers 64-byte aligned; kernels rely on it.
    std::optional<int64_t> end =
        checkedAdd(v->offset_per_token(), v->bytes_per_token());
    if (!end || v->offset_per_token() % 64 != 0 ||
        *end > fn->peak_bytes_per_token())
      return fail("value '", v->name() ? v->name()->str() : "",
                  "' lies outside the memory plan");
    std::optional<int64_t> expected =
        static_cast<int64_t>(elementSize(v->type()));
    if (v->dims())
      expected = checkedProduct(*v->dims(), *expected);
    if (!expected || *expected != v->bytes_per_token())
      return fail("value '", v->name() ? v->name()->str() : "",
                  "' size disagrees with its dims");
  }
  if (fn->params())
    for (const fb::Param *p : *fn->params()) {
      if (!p->name() || !p->shape() || !p->full_shape() ||
          p->shape()->size() != p->full_shape()->size())
        return fail("malformed param");
      std::optional<int64_t> elements = checkedProduct(*p->full_shape());
      if (!elements || *elements > (int64_t(1) << 40))
        return fail("param '", p->name()->str(), "' has a bad shape");
      if (p->slice_dim() >= static_cast<int64_t>(p->shape()->size()) ||
          p->slice_parts() < 1 || p->slice_groups() < 1 ||
          p->slice_parts() > 1024 || p->slice_groups() > 1024)
        return fail("param '", p->name()->str(), "' has a bad slice");
      // The rank's shape must be what slicing the full shape gives.
      for (size_t d = 0; d < p->shape()->size(); ++d) {
        int64_t full = p->full_shape()->Get(d), local = p->shape()->Get(d);
        int64_t parts = p->slice_parts(), groups = p->slice_groups();
        if (full < 0 || full > (int64_t(1) << 40))
          return fail("param '", p->name()->str(), "' has a bad dim");
        bool sliced = static_cast<int64_t>(d) == p->slice_dim();
        int64_t expected =
            !sliced       ? full
            : groups == 1 ? (full + parts - 1) / parts
                          : (full % (parts * groups) == 0 ? full / parts : -1);
        if (full < 0 || local != expected || local > (int64_t(1) << 40))
          return fail("param '", p->name()->str(),
                      "' shape disagrees with its slice");
      }
    }
  if (fn->checkpoints())
    for (int32_t c : *fn->checkpoints())
      if (c < 0 || c >= numValues)
        return fail("checkpoint out of range");
  for (size_t i = 0; i < fn->ops()->size(); ++i)
    ROSE_RETURN_IF_ERROR(checkOp(*fn, *fn->ops()->Get(i), i));
  if (Status s = checkFunctionShapes(*fn); !s.ok())
    return fail(s.message());
  return Status::success();
}

Status Program::validate(const uint8_t *data, size_t size,
                         const std::string &what) {
  // Alignment is checked against addresses; mapped files start page-aligned,
  // an in-memory buffer may not, so validate an aligned copy of it.
  std::vector<uint64_t> copy;
  if (reinterpret_cast<uintptr_t>(data) % alignof(uint64_t) != 0) {
    copy.resize((size + 7) / 8);
    std::memcpy(copy.data(), data, size);
    data = reinterpret_cast<const uint8_t *>(copy.data());
  }
  if (size < 8 || !fb::ProgramBufferHasIdentifier(data))
    return Status::error(what, ": not a rose program file");
  flatbuffers::Verifier verifier(data, size);
  if (!fb::VerifyProgramBuffer(verifier))
    return Status::error(what, ": corrupt rose program file");
  const fb::Program *root = fb::GetProgram(data);
  if (root->version() != kProgramVersion)
    return Status::error(what, ": program format version ", root->version(),
                         ", this runtime reads version ", kProgramVersion,
                         " (recompile the model with this rose-compile)");
  if (root->vocab_size() < 1)
    return Status::error(what, ": bad vocab size");
  if (Status s = checkFunction(root->main(), "main"); !s.ok())
    return s.withContext(what);
  if (root->dense())
    if (Status s = checkFunction(root->dense(), "dense"); !s.ok())
      return s.withContext(what);
  return Status::success();
}

StatusOr<std::shared_ptr<Program>> Program::load(const std::string &path) {
  auto file = MappedFile::open(path);
  if (!file)
    return file.status();
  ROSE_RETURN_IF_ERROR(validate((*file)->data(), (*file)->size(), path));
  auto program = std::shared_ptr<Program>(new Program());
  program->file_ = file.take();
  program->root_ = fb::GetProgram(program->file_->data());
  program->path_ = path;
  return program;
}
