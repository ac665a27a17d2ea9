//===- Program.cpp - loading and validating program files
//------------------===//
#include "runtime/Program.h"

#include <flatbuffers/flatbuffers.h>

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

static Status checkFunction(const fb::Function *fn, const char *which) {
  auto fail = [&](const auto &...args) {
    return Status::error(which, " function: ", args...);
  };
  if (!fn)
    return fail("missing");
  if (fn->tp() < 1 || fn->tp() > 1024)
    return fail("tp ", fn->tp(), " out of range");
  if (!fn->values() || !fn->ops())
    return fail("missing values or ops");
  int64_t numValues = fn->values()->size();
  if (fn->input() < 0 || fn->input() >= numValues || fn->output() < 0 ||
      fn->output() >= numValues)
    return fail("input/output out of range");
  if (fn->peak_bytes_per_token() < 0)
    return fail("negative peak");
  for (const fb::Value *v : *fn->values()) {
    if (v->bytes_per_token() < 0 || v->offset_per_token() < 0 ||
        v->offset_per_token() + v->bytes_per_token() >
            fn->peak_bytes_per_token())
      return fail("value '", v->name() ? v->name()->str() : "",
                  "' lies outside the memory plan");
    int64_t expected = static_cast<int64_t>(elementSize(v->type()));
    if (v->dims())
      for (int64_t d : *v->dims()) {
        if (d < 0 || d > (int64_t(1) << 32))
          return fail("bad dim");
        expected *= d;
      }
    if (expected != v->bytes_per_token())
      return fail("value '", v->name() ? v->name()->str() : "",
                  "' size disagrees with its dims");
  }
  if (fn->params())
    for (const fb::Param *p : *fn->params()) {
      if (!p->name() || !p->shape() || !p->full_shape() ||
          p->shape()->size() != p->full_shape()->size())
        return fail("malformed param");
      if (p->slice_dim() >= static_cast<int64_t>(p->shape()->size()) ||
          p->slice_parts() < 1 || p->slice_groups() < 1)
        return fail("param '", p->name()->str(), "' has a bad slice");
    }
  if (fn->checkpoints())
    for (int32_t c : *fn->checkpoints())
      if (c < 0 || c >= numValues)
        return fail("checkpoint out of range");
  for (size_t i = 0; i < fn->ops()->size(); ++i)
    ROSE_RETURN_IF_ERROR(checkOp(*fn, *fn->ops()->Get(i), i));
  return Status::success();
}

Status Program::validate(const uint8_t *data, size_t size,
                         const std::string &what) {
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
