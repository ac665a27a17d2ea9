//===- Program.cpp - loading and validating programs ----------------------===//
#include "runtime/Program.h"
#include "runtime/CheckedMath.h"

#include <flatbuffers/flatbuffers.h>

#include <cstring>
#include <map>
#include <numeric>
#include <vector>

using namespace rose;

/// Limits that keep every size computed below exact (and fuzzing cheap;
/// kMaxDim is in Program.h).
static constexpr int64_t kMaxDivisor = 1 << 16;
static constexpr int64_t kMaxRanks = 1024;
static constexpr size_t kMaxRank = 16, kMaxTerms = 8, kMaxSymbols = 16;

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

const char *rose::opName(const fb::Op &op) {
  return fb::EnumNameOpAttrs(op.attrs_type());
}

bool rose::isCollective(const fb::Op &op) {
  switch (op.attrs_type()) {
  case fb::OpAttrs::AllReduce:
  case fb::OpAttrs::AllGather:
  case fb::OpAttrs::ReduceScatter:
  case fb::OpAttrs::ShardSlice:
  case fb::OpAttrs::AllToAll:
    return true;
  default:
    return false;
  }
}

int32_t rose::collectiveAxis(const fb::Op &op) {
  switch (op.attrs_type()) {
  case fb::OpAttrs::AllReduce:
    return op.attrs_as_AllReduce()->axis();
  case fb::OpAttrs::AllGather:
    return op.attrs_as_AllGather()->axis();
  case fb::OpAttrs::ReduceScatter:
    return op.attrs_as_ReduceScatter()->axis();
  case fb::OpAttrs::ShardSlice:
    return op.attrs_as_ShardSlice()->axis();
  case fb::OpAttrs::AllToAll:
    return op.attrs_as_AllToAll()->axis();
  default:
    return -1;
  }
}

int Entry::coord(int rank, int32_t axis) const {
  // Row-major: the last axis varies fastest.
  int64_t stride = 1;
  for (int32_t a = static_cast<int32_t>(program->mesh()->size()) - 1; a > axis;
       --a)
    stride *= axisSize(a);
  return static_cast<int>((rank / stride) % axisSize(axis));
}

int64_t Entry::ranks() const {
  int64_t n = 1;
  for (const fb::MeshAxis *a : *program->mesh())
    n *= a->size(); // validated: the product is at most kMaxRanks
  return n;
}

int64_t Entry::axisSize(int32_t axis) const {
  return program->mesh()->Get(axis)->size();
}

std::string Entry::name() const { return fn->name()->str(); }

std::vector<bool> Entry::usedParams() const {
  std::vector<bool> used(program->params()->size(), false);
  for (const fb::Op *op : *fn->ops())
    for (const fb::Operand *o : *op->operands())
      if (o->param() >= 0)
        used[o->param()] = true;
  return used;
}

Shape rose::paramShape(const fb::Param &param) {
  return {param.shape()->begin(), param.shape()->end()};
}

std::vector<Shape> rose::paramShapes(const fb::Program &program) {
  std::vector<Shape> out;
  for (const fb::Param *p : *program.params())
    out.push_back(paramShape(*p));
  return out;
}

std::optional<Entry> Program::entry(const std::string &name) const {
  for (const fb::Function *fn : *root_->functions())
    if (fn->name()->str() == name)
      return Entry{root_, fn};
  return std::nullopt;
}

//===----------------------------------------------------------------------===//
// Symbolic dims
//===----------------------------------------------------------------------===//

namespace {

/// The FlatBuffers verifier checks vectors for 4-byte alignment only; 8-byte
/// elements read from a misaligned address are undefined behaviour.
template <typename T> bool aligned(const flatbuffers::Vector<T> *v) {
  // An empty vector has no elements to read, and no alignment guarantee.
  return !v || v->size() == 0 ||
         reinterpret_cast<uintptr_t>(v->data()) % alignof(T) == 0;
}

/// A dim whose divisor, constant, symbols and coefficients are in range.
bool validDim(const fb::Program &program, const fb::Dim &d) {
  int32_t numSymbols = static_cast<int32_t>(program.symbols()->size());
  if (d.divisor() < 1 || d.divisor() > kMaxDivisor || d.constant() < 0 ||
      d.constant() > kMaxDim || (d.terms() && d.terms()->size() > kMaxTerms) ||
      !aligned(d.terms()))
    return false;
  if (d.terms())
    for (const fb::Term *t : *d.terms())
      if (t->symbol() < 0 || t->symbol() >= numSymbols || t->coeff() < 0 ||
          t->coeff() > kMaxDim)
        return false;
  return true;
}

bool validDims(const fb::Program &program,
               const flatbuffers::Vector<flatbuffers::Offset<fb::Dim>> *dims) {
  for (const fb::Dim *d : *dims)
    if (!validDim(program, *d))
      return false;
  return true;
}

bool sameDim(const fb::Dim &a, const fb::Dim &b) {
  if (a.constant() != b.constant() || a.divisor() != b.divisor())
    return false;
  size_t n = a.terms() ? a.terms()->size() : 0;
  if (n != (b.terms() ? b.terms()->size() : 0))
    return false;
  for (size_t i = 0; i < n; ++i)
    if (a.terms()->Get(i)->symbol() != b.terms()->Get(i)->symbol() ||
        a.terms()->Get(i)->coeff() != b.terms()->Get(i)->coeff())
      return false;
  return true;
}

/// Operand and result counts each op kind needs, and its attributes.
Status checkOpStructure(const Entry &entry, const fb::Op &op, size_t index) {
  auto fail = [&](const auto &...args) {
    return Status::error("op #", index, " (", opName(op), "): ", args...);
  };
  if (op.attrs_type() == fb::OpAttrs::NONE ||
      op.attrs_type() > fb::OpAttrs::MAX || !op.attrs())
    return Status::error("op #", index, ": unknown op kind ",
                         static_cast<int>(op.attrs_type()));
  int64_t numValues = entry.fn->values()->size();
  int64_t numParams = entry.program->params()->size();
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
  auto bufferOf = [&](int32_t value) {
    return value < 0 ? -1 : entry.value(value)->buffer();
  };
  if (op.attrs_type() != fb::OpAttrs::CacheWrite)
    for (int32_t result : *op.results())
      if (bufferOf(result) >= 0)
        return fail("only a cache_write writes a persistent buffer");
  size_t n = op.operands()->size(), results = op.results()->size();
  auto need = [&](size_t lo, size_t hi, size_t numResults = 1) -> Status {
    if (n < lo || n > hi || results != numResults)
      return fail("malformed (", n, " operands, ", results, " results)");
    return Status::success();
  };
  auto validAxis = [&](int32_t a) {
    return a >= 0 && a < static_cast<int64_t>(entry.program->mesh()->size());
  };
  // Collectives: one operand, over a mesh axis.
  auto axis = [&](int32_t a) -> Status {
    if (!validAxis(a))
      return fail("mesh axis ", a, " out of range");
    return need(1, 1);
  };
  switch (op.attrs_type()) {
  case fb::OpAttrs::Embedding: {
    auto *e = op.attrs_as_Embedding();
    if (e->vocab_shards() > 0 && !validAxis(e->axis()))
      return fail("mesh axis ", e->axis(), " out of range");
    return need(2, 2);
  }
  case fb::OpAttrs::Positions:
    if (auto *shift = op.attrs_as_Positions()->shift();
        shift && !validDim(*entry.program, *shift))
      return fail("malformed shift");
    return need(1, 1);
  case fb::OpAttrs::MatMul:
    if (op.attrs_as_MatMul()->epilogue() > fb::Epilogue::MAX)
      return fail("unknown matmul epilogue ",
                  static_cast<int>(op.attrs_as_MatMul()->epilogue()));
    return need(2, 3);
  case fb::OpAttrs::Add:
  case fb::OpAttrs::Sub:
  case fb::OpAttrs::Mul:
  case fb::OpAttrs::Div:
  case fb::OpAttrs::Pow:
  case fb::OpAttrs::Max:
  case fb::OpAttrs::Min:
  case fb::OpAttrs::Equal:
  case fb::OpAttrs::Less:
  case fb::OpAttrs::Greater:
    return need(2, 2);
  case fb::OpAttrs::Where:
    return need(3, 3);
  case fb::OpAttrs::Iota: // the operand is read for its shape only
  case fb::OpAttrs::Fill:
  case fb::OpAttrs::Cast:
  case fb::OpAttrs::Trilu:
    return need(1, 1);
  case fb::OpAttrs::Gather:
    return need(2, 2);
  case fb::OpAttrs::Reduce:
    if (op.attrs_as_Reduce()->fn() > fb::ReduceFn::MAX)
      return fail("unknown reduction ",
                  static_cast<int>(op.attrs_as_Reduce()->fn()));
    return need(1, 1);
  case fb::OpAttrs::LayerNorm:
    return need(3, 3);
  case fb::OpAttrs::RmsNorm:
    return need(2, 2);
  case fb::OpAttrs::Rotary:
    if (!op.attrs_as_Rotary()->inv_freq())
      return fail("rotary without inv_freq");
    return need(2, 2);
  case fb::OpAttrs::Unary:
    if (op.attrs_as_Unary()->fn() > fb::UnaryFn::MAX)
      return fail("unknown unary function ",
                  static_cast<int>(op.attrs_as_Unary()->fn()));
    return need(1, 1);
  case fb::OpAttrs::Gelu:
  case fb::OpAttrs::Softmax:
    return need(1, 1);
  case fb::OpAttrs::Attention:
    if (auto *kvLen = op.attrs_as_Attention()->kv_len();
        kvLen && !validDim(*entry.program, *kvLen))
      return fail("malformed kv_len");
    return need(3, 3);
  case fb::OpAttrs::Reshape:
    return need(1, 1);
  case fb::OpAttrs::Transpose:
    if (!op.attrs_as_Transpose()->perm())
      return fail("missing perm");
    return need(1, 1);
  case fb::OpAttrs::Split: {
    auto *sizes = op.attrs_as_Split()->sizes();
    if (!sizes || !aligned(sizes) || sizes->size() == 0)
      return fail("missing sizes");
    return need(1, 1, sizes->size());
  }
  case fb::OpAttrs::Concat:
    return need(1, 64);
  case fb::OpAttrs::Slice:
    return need(1, 1);
  case fb::OpAttrs::AllReduce:
    return axis(op.attrs_as_AllReduce()->axis());
  case fb::OpAttrs::AllGather:
    return axis(op.attrs_as_AllGather()->axis());
  case fb::OpAttrs::ReduceScatter:
    return axis(op.attrs_as_ReduceScatter()->axis());
  case fb::OpAttrs::ShardSlice:
    return axis(op.attrs_as_ShardSlice()->axis());
  case fb::OpAttrs::AllToAll:
    return axis(op.attrs_as_AllToAll()->axis());
  case fb::OpAttrs::CacheWrite: {
    // In place: the cache operand and the result are the same buffer.
    auto *a = op.attrs_as_CacheWrite();
    ROSE_RETURN_IF_ERROR(need(2, 2));
    if (!a->offset() || !validDim(*entry.program, *a->offset()))
      return fail("malformed offset");
    int32_t cache = op.operands()->Get(0)->value();
    int32_t update = op.operands()->Get(1)->value();
    if (bufferOf(cache) < 0 ||
        bufferOf(op.results()->Get(0)) != bufferOf(cache))
      return fail("the cache and the result must be the same buffer");
    if (update < 0 || bufferOf(update) >= 0)
      return fail("the update must be a value of the call");
    return Status::success();
  }
  default:
    return fail("unknown op kind");
  }
}

Status checkEntry(const Entry &entry) {
  const fb::Function *fn = entry.fn;
  std::string which = fn && fn->name() ? fn->name()->str() : "?";
  auto fail = [&](const auto &...args) {
    return Status::error(which, " function: ", args...);
  };
  if (!fn || !fn->name() || !fn->values() || !fn->ops() || !fn->inputs() ||
      !fn->outputs())
    return fail("missing name, values, ops, inputs or outputs");
  int64_t numValues = fn->values()->size();
  if (fn->inputs()->size() != 1 || fn->outputs()->size() != 1)
    return fail("expected one input (token ids) and one output (logits)");
  for (int32_t v : *fn->inputs())
    if (v < 0 || v >= numValues)
      return fail("input out of range");
  for (int32_t v : *fn->outputs())
    if (v < 0 || v >= numValues || fn->values()->Get(v)->buffer() != -1)
      return fail("output out of range");
  for (const fb::Value *v : *fn->values()) {
    if (!v->name() || !v->shape() || v->shape()->size() > kMaxRank ||
        elementSize(v->type()) == 0)
      return fail("malformed value");
    if (!validDims(*entry.program, v->shape()))
      return fail("value '", v->name()->str(), "' has a malformed dim");
    if (v->buffer() != -1) {
      // A value in a persistent buffer has the buffer's type and dims.
      auto *buffers = entry.program->buffers();
      if (!buffers || v->buffer() < 0 ||
          v->buffer() >= static_cast<int32_t>(buffers->size()))
        return fail("value '", v->name()->str(), "': buffer out of range");
      const fb::Buffer *b = buffers->Get(v->buffer());
      bool same =
          b->type() == v->type() && b->shape()->size() == v->shape()->size();
      for (size_t d = 0; same && d < v->shape()->size(); ++d)
        same = sameDim(*b->shape()->Get(d), *v->shape()->Get(d));
      if (!same)
        return fail("value '", v->name()->str(),
                    "' disagrees with the type or shape of buffer '",
                    b->name()->str(), "'");
    }
  }
  // The token ids are int64 [batch, seq], each dim one symbol.
  const fb::Value *ids = fn->values()->Get(fn->inputs()->Get(0));
  auto isSymbol = [&](const fb::Dim *d, const char *name) {
    return d->constant() == 0 && d->divisor() == 1 && d->terms() &&
           d->terms()->size() == 1 && d->terms()->Get(0)->coeff() == 1 &&
           entry.program->symbols()->Get(d->terms()->Get(0)->symbol())->str() ==
               name;
  };
  if (ids->type() != fb::ElementType::I64 || ids->shape()->size() != 2 ||
      ids->buffer() != -1 || !isSymbol(ids->shape()->Get(0), "batch") ||
      !isSymbol(ids->shape()->Get(1), "seq"))
    return fail("the input must be int64 token ids [batch, seq]");
  if (fn->checkpoints())
    for (int32_t c : *fn->checkpoints())
      if (c < 0 || c >= numValues)
        return fail("checkpoint out of range");
  for (size_t i = 0; i < fn->ops()->size(); ++i)
    if (Status s = checkOpStructure(entry, *fn->ops()->Get(i), i); !s.ok())
      return fail(s.message());
  // Shapes and op rules at two sample bindings where every division is
  // exact; each call checks its own binding again (layoutCall).
  int64_t step = 1;
  for (const fb::Value *v : *fn->values())
    for (const fb::Dim *d : *v->shape())
      step = std::lcm(step, d->divisor());
  if (step > kMaxDivisor)
    return fail("the dims' divisors are too large");
  for (int64_t scale : {1, 2}) {
    SymbolValues extra;
    for (const flatbuffers::String *name : *entry.program->symbols())
      if (name->str() != "batch" && name->str() != "seq")
        extra[name->str()] = scale * step;
    auto layout = layoutCall(entry, scale, 3 * scale * step, extra);
    if (!layout)
      return fail(layout.status().message());
  }
  return Status::success();
}

Status checkProgram(const fb::Program &root) {
  if (root.vocab_size() < 1)
    return Status::error("bad vocab size");
  if (!root.symbols() || root.symbols()->size() > kMaxSymbols || !root.mesh() ||
      root.mesh()->size() == 0 || !root.params() || !root.functions() ||
      root.functions()->size() == 0)
    return Status::error("missing symbols, mesh, params or functions");
  for (const flatbuffers::String *s : *root.symbols())
    if (!s)
      return Status::error("unnamed symbol");
  int64_t ranks = 1;
  for (const fb::MeshAxis *a : *root.mesh()) {
    if (!a->name() || a->size() < 1 || a->size() > kMaxRanks ||
        (ranks *= a->size()) > kMaxRanks)
      return Status::error("mesh axis out of range (at most ", kMaxRanks,
                           " ranks)");
  }
  for (const fb::Param *p : *root.params()) {
    if (!p->name() || !p->shape() || !p->full_shape() ||
        p->shape()->size() != p->full_shape()->size() || !aligned(p->shape()) ||
        !aligned(p->full_shape()) || elementSize(p->type()) == 0)
      return Status::error("malformed param");
    std::string name = p->name()->str();
    std::optional<int64_t> elements = checkedProduct(*p->full_shape());
    if (!elements || *elements > kMaxDim)
      return Status::error("param '", name, "' has a bad shape");
    if (p->slice_dim() >= static_cast<int64_t>(p->shape()->size()) ||
        p->slice_parts() < 1 || p->slice_groups() < 1 ||
        p->slice_parts() > kMaxRanks || p->slice_groups() > kMaxRanks ||
        p->slice_replicas() < 1 || p->slice_replicas() > kMaxRanks ||
        (p->slice_replicas() > 1 && p->slice_groups() != 1) ||
        p->slice_axis() < 0 ||
        p->slice_axis() >= static_cast<int32_t>(root.mesh()->size()) ||
        (p->slice_dim() >= 0 && p->slice_parts() * p->slice_replicas() !=
                                    root.mesh()->Get(p->slice_axis())->size()))
      return Status::error("param '", name, "' has a bad slice");
    if (p->data() &&
        (p->slice_dim() >= 0 || p->type() != fb::ElementType::F32 ||
         static_cast<int64_t>(p->data()->size()) != *elements))
      return Status::error("constant '", name, "' has ", p->data()->size(),
                           " values for its shape");
    // The rank's shape must be what slicing the full shape gives.
    for (size_t d = 0; d < p->shape()->size(); ++d) {
      int64_t full = p->full_shape()->Get(d), local = p->shape()->Get(d);
      int64_t parts = p->slice_parts(), groups = p->slice_groups();
      bool sliced = static_cast<int64_t>(d) == p->slice_dim();
      int64_t expected =
          !sliced       ? full
          : groups == 1 ? (full + parts - 1) / parts
                        : (full % (parts * groups) == 0 ? full / parts : -1);
      if (local != expected)
        return Status::error("param '", name,
                             "' shape disagrees with its slice");
    }
  }
  if (root.buffers())
    for (const fb::Buffer *b : *root.buffers())
      if (!b->name() || !b->shape() || b->shape()->size() > kMaxRank ||
          elementSize(b->type()) == 0 || !validDims(root, b->shape()))
        return Status::error("malformed buffer");
  for (const fb::Function *fn : *root.functions())
    ROSE_RETURN_IF_ERROR(checkEntry(Entry{&root, fn}));
  return Status::success();
}

} // namespace

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
  // The version is the root table's first field in every format version:
  // read it alone first, so an old file says so instead of "corrupt".
  {
    flatbuffers::Verifier header(data, size);
    auto *table = flatbuffers::GetRoot<flatbuffers::Table>(data);
    if (!header.VerifyOffset(0) || !table->VerifyTableStart(header) ||
        !table->VerifyField<uint32_t>(header, fb::Program::VT_VERSION, 4))
      return Status::error(what, ": corrupt rose program file");
    uint32_t version = table->GetField<uint32_t>(fb::Program::VT_VERSION, 0);
    if (version < kOldestProgramVersion || version > kProgramVersion)
      return Status::error(what, ": program format version ", version,
                           ", this runtime reads versions ",
                           kOldestProgramVersion, " to ", kProgramVersion,
                           " (recompile the model with this rose-compile)");
  }
  flatbuffers::Verifier verifier(data, size);
  if (!fb::VerifyProgramBuffer(verifier))
    return Status::error(what, ": corrupt rose program file");
  if (Status s = checkProgram(*fb::GetProgram(data)); !s.ok())
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
