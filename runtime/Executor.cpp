//===- Executor.cpp - runs one rank of a program on the CPU
//----------------===//
#include "runtime/Executor.h"
#include "runtime/CheckedMath.h"
#include "runtime/cpu/Kernels.h"

#include <chrono>
#include <cstring>
#include <limits>

using namespace rose;
using cpu::Shape;

Executor::Executor(const Entry &entry, const RankWeights &weights,
                   Communicator &comm)
    : entry(entry), weights(weights), comm(comm),
      params(paramShapes(*entry.program)) {}

uint8_t *Executor::data(int32_t value) const {
  return arena.get() + layout.offsets[value];
}

const float *Executor::floatData(int32_t value) const {
  return reinterpret_cast<const float *>(data(value));
}

const float *Executor::operand(const fb::Operand *o) const {
  if (o->param() >= 0)
    return weights.param(o->param());
  return floatData(o->value());
}

const Shape &Executor::operandShape(const fb::Operand *o) const {
  return rose::operandShape(layout.shapes, params, o);
}

Status Executor::runOp(const fb::Op &op) {
  auto operands = op.operands();
  int32_t result = op.results()->Get(0);
  float *y = reinterpret_cast<float *>(data(result));
  const Shape &outShape = shapeOf(result);
  auto in = [&](size_t i) { return operand(operands->Get(i)); };
  auto inShape = [&](size_t i) -> const Shape & {
    return operandShape(operands->Get(i));
  };
  const std::string layer = op.layer() ? op.layer()->str() : "";
  // One mesh axis today: every collective runs over the whole group.
  int tp = comm.size(), rank = comm.rank();

  switch (op.attrs_type()) {
  case fb::OpAttrs::Embedding: {
    const Shape &table = inShape(0);
    const int64_t *ids =
        reinterpret_cast<const int64_t *>(data(operands->Get(1)->value()));
    int64_t tokens = numElements(inShape(1));
    int64_t shards = op.attrs_as_Embedding()->vocab_shards();
    if (shards == 0)
      for (int64_t t = 0; t < tokens; ++t)
        if (ids[t] < 0 || ids[t] >= table[0])
          return Status::error("'", layer, "': index ", ids[t],
                               " is out of range for its ", table[0],
                               " rows (sequence longer than the model's "
                               "positions?)");
    cpu::embedding(in(0), table[0], table[1], ids, tokens,
                   shards ? rank * table[0] : 0, y);
    return Status::success();
  }
  case fb::OpAttrs::Positions: {
    auto *out = reinterpret_cast<int64_t *>(y);
    int64_t rows = outShape[0], cols = outShape[1];
    int64_t offset = op.attrs_as_Positions()->offset();
    for (int64_t b = 0; b < rows; ++b)
      for (int64_t s = 0; s < cols; ++s)
        out[b * cols + s] = s + offset;
    return Status::success();
  }
  case fb::OpAttrs::MatMul: {
    const Shape &w = inShape(1);
    bool transposed = op.attrs_as_MatMul()->transpose_rhs();
    int64_t k = transposed ? w[1] : w[0], n = transposed ? w[0] : w[1];
    cpu::matmul(in(0), in(1), operands->size() > 2 ? in(2) : nullptr,
                numElements(inShape(0)) / k, k, n, transposed, y);
    return Status::success();
  }
  case fb::OpAttrs::Add:
  case fb::OpAttrs::Sub:
  case fb::OpAttrs::Mul:
  case fb::OpAttrs::Div: {
    fb::OpAttrs k = op.attrs_type();
    cpu::Binary kind = k == fb::OpAttrs::Add   ? cpu::Binary::Add
                       : k == fb::OpAttrs::Sub ? cpu::Binary::Sub
                       : k == fb::OpAttrs::Mul ? cpu::Binary::Mul
                                               : cpu::Binary::Div;
    cpu::binary(kind, in(0), inShape(0), in(1), inShape(1), y, outShape);
    return Status::success();
  }
  case fb::OpAttrs::LayerNorm: {
    int64_t dim = outShape.back();
    if (dim == 0)
      return Status::success();
    cpu::layerNorm(in(0), in(1), in(2), numElements(outShape) / dim, dim,
                   op.attrs_as_LayerNorm()->epsilon(), y);
    return Status::success();
  }
  case fb::OpAttrs::Gelu:
    cpu::gelu(in(0), numElements(outShape), op.attrs_as_Gelu()->tanh(), y);
    return Status::success();
  case fb::OpAttrs::Softmax:
    cpu::softmax(in(0), outShape, op.attrs_as_Softmax()->axis(), y);
    return Status::success();
  case fb::OpAttrs::Attention: {
    // [batch, seq, heads x head_dim]; the checker bounded seq x seq scores.
    auto *a = op.attrs_as_Attention();
    cpu::attention(in(0), in(1), in(2), outShape[0], outShape[1], a->heads(),
                   outShape[2] / a->heads(), a->causal(),
                   static_cast<float>(a->scale()), y);
    return Status::success();
  }
  case fb::OpAttrs::Reshape:
    std::memcpy(y, in(0), numElements(outShape) * sizeof(float));
    return Status::success();
  case fb::OpAttrs::Transpose: {
    auto *perm = op.attrs_as_Transpose()->perm();
    std::vector<int64_t> p(perm->begin(), perm->end());
    cpu::transpose(in(0), inShape(0), p, y);
    return Status::success();
  }
  case fb::OpAttrs::Split: {
    auto *a = op.attrs_as_Split();
    const Shape &shape = inShape(0);
    int64_t axis = a->axis(), offset = 0;
    for (size_t i = 0; i < op.results()->size(); ++i) {
      int64_t size = a->sizes()->Get(i);
      cpu::sliceAxis(in(0), shape, axis, offset, offset + size,
                     reinterpret_cast<float *>(data(op.results()->Get(i))));
      offset += size;
    }
    return Status::success();
  }
  case fb::OpAttrs::Concat: {
    int64_t axis = op.attrs_as_Concat()->axis(), offset = 0;
    for (size_t i = 0; i < operands->size(); ++i) {
      const Shape &shape = inShape(i);
      cpu::insertAxis(in(i), shape, axis, offset, outShape[axis], y);
      offset += shape[axis];
    }
    return Status::success();
  }
  case fb::OpAttrs::Slice: {
    auto *a = op.attrs_as_Slice();
    cpu::sliceAxis(in(0), inShape(0), a->axis(), a->start(), a->end(), y);
    return Status::success();
  }
  case fb::OpAttrs::AllReduce: {
    size_t n = numElements(outShape);
    if (y != in(0))
      std::memcpy(y, in(0), n * sizeof(float));
    return comm.allReduceSum(y, n);
  }
  case fb::OpAttrs::AllGather: {
    // Gather contiguous chunks, then interleave them along `dim`.
    const Shape &local = inShape(0);
    int64_t dim = op.attrs_as_AllGather()->dim(), outer = 1;
    for (int64_t d = 0; d < dim; ++d)
      outer *= local[d];
    int64_t chunk = numElements(local), inner = chunk / outer;
    scratch.resize(chunk * tp);
    ROSE_RETURN_IF_ERROR(comm.allGather(in(0), chunk, scratch.data()));
    for (int r = 0; r < tp; ++r)
      for (int64_t o = 0; o < outer; ++o)
        std::memcpy(y + (o * tp + r) * inner,
                    scratch.data() + r * chunk + o * inner,
                    inner * sizeof(float));
    return Status::success();
  }
  case fb::OpAttrs::ReduceScatter: {
    const Shape &full = inShape(0);
    int64_t dim = op.attrs_as_ReduceScatter()->dim(), outer = 1;
    for (int64_t d = 0; d < dim; ++d)
      outer *= full[d];
    int64_t inner = numElements(full) / outer / tp, chunk = outer * inner;
    scratch.resize(chunk * tp);
    for (int r = 0; r < tp; ++r)
      for (int64_t o = 0; o < outer; ++o)
        std::memcpy(scratch.data() + r * chunk + o * inner,
                    in(0) + (o * tp + r) * inner, inner * sizeof(float));
    return comm.reduceScatterSum(scratch.data(), chunk, y);
  }
  case fb::OpAttrs::ShardSlice: {
    const Shape &full = inShape(0);
    int64_t dim = op.attrs_as_ShardSlice()->dim();
    if (full[dim] % tp != 0)
      return Status::error("'", layer, "': dim ", dim, " of size ", full[dim],
                           " is not divisible by tp=", tp);
    int64_t part = full[dim] / tp;
    cpu::sliceAxis(in(0), full, dim, rank * part, (rank + 1) * part, y);
    return Status::success();
  }
  default:
    break;
  }
  return Status::error("unknown op kind");
}

Status Executor::run(const int64_t *tokens, int64_t b, int64_t s,
                     std::vector<OpEvent> *trace,
                     std::vector<Checkpoint> *checkpoints) {
  if (b != batch || s != seq) {
    auto laid = layoutCall(entry, b, s);
    if (!laid)
      return laid.status();
    layout = laid.take();
    batch = b;
    seq = s;
  }
  size_t need = static_cast<size_t>(layout.arenaBytes) + 64;
  if (need > arenaBytes) {
    void *p = aligned_alloc(64, (need + 63) / 64 * 64);
    if (!p)
      return Status::error("out of memory: the memory plan needs ", need,
                           " bytes for ", b, "x", s, " tokens");
    arena.reset(static_cast<uint8_t *>(p));
    arenaBytes = need;
  }
  std::memcpy(data(entry.input()), tokens, sizeof(int64_t) * b * s);
  auto start = std::chrono::steady_clock::now();
  auto micros = [&](auto t) {
    return std::chrono::duration<double, std::micro>(t - start).count();
  };
  const fb::Function &fn = *entry.fn;
  for (const fb::Op *op : *fn.ops()) {
    auto t0 = std::chrono::steady_clock::now();
    Status status = runOp(*op);
    if (!status.ok())
      return status;
    if (checkpoints && fn.checkpoints())
      for (int32_t result : *op->results())
        for (int32_t c : *fn.checkpoints())
          if (c == result) {
            int64_t n = numElements(shapeOf(c));
            checkpoints->push_back(
                {entry.value(c)->name()->str(), shapeOf(c),
                 std::vector<float>(floatData(c), floatData(c) + n)});
          }
    if (trace) {
      auto t1 = std::chrono::steady_clock::now();
      bool collective = op->attrs_type() >= fb::OpAttrs::AllReduce;
      trace->push_back({opName(*op), op->layer() ? op->layer()->str() : "",
                        collective, micros(t0), micros(t1) - micros(t0)});
    }
  }
  return Status::success();
}
