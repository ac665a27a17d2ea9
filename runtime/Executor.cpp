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

Executor::Executor(const fb::Function &fn, const RankWeights &weights,
                   Communicator &comm)
    : fn(fn), weights(weights), comm(comm) {}

uint8_t *Executor::data(int32_t value) const {
  return arena.get() +
         fn.values()->Get(value)->offset_per_token() * batch * seq;
}

const float *Executor::floatData(int32_t value) const {
  return reinterpret_cast<const float *>(data(value));
}

std::vector<int64_t> Executor::shapeOf(int32_t value) const {
  return valueShape(fn, value, batch, seq);
}

const float *Executor::operand(const fb::Operand *o) const {
  if (o->param() >= 0)
    return weights.param(o->param());
  return floatData(o->value());
}

std::vector<int64_t> Executor::operandShape(const fb::Operand *o) const {
  return rose::operandShape(fn, o, batch, seq);
}

Status Executor::runOp(const fb::Op &op) {
  auto operands = op.operands();
  int32_t result = op.results()->Get(0);
  float *y = reinterpret_cast<float *>(data(result));
  Shape outShape = shapeOf(result);
  auto ints = [&](size_t i) { return op.ints()->Get(i); };
  auto in = [&](size_t i) { return operand(operands->Get(i)); };
  auto inShape = [&](size_t i) { return operandShape(operands->Get(i)); };
  const std::string layer = op.layer() ? op.layer()->str() : "";
  int tp = comm.size(), rank = comm.rank();

  switch (op.kind()) {
  case fb::OpKind::Embedding: {
    Shape table = inShape(0);
    const int64_t *ids =
        reinterpret_cast<const int64_t *>(data(operands->Get(1)->value()));
    int64_t tokens = batch * seq, shards = ints(0);
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
  case fb::OpKind::Positions: {
    auto *out = reinterpret_cast<int64_t *>(y);
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t s = 0; s < seq; ++s)
        out[b * seq + s] = s + ints(0);
    return Status::success();
  }
  case fb::OpKind::MatMul: {
    Shape w = inShape(1);
    if (operands->Get(1)->param() < 0)
      return Status::error("'", layer,
                           "': matmul of two activations is not "
                           "supported by the CPU backend");
    bool transposed = ints(0) != 0;
    int64_t k = transposed ? w[1] : w[0], n = transposed ? w[0] : w[1];
    cpu::matmul(in(0), in(1), operands->size() > 2 ? in(2) : nullptr,
                numElements(inShape(0)) / k, k, n, transposed, y);
    return Status::success();
  }
  case fb::OpKind::Add:
  case fb::OpKind::Sub:
  case fb::OpKind::Mul:
  case fb::OpKind::Div: {
    cpu::Binary kind = op.kind() == fb::OpKind::Add   ? cpu::Binary::Add
                       : op.kind() == fb::OpKind::Sub ? cpu::Binary::Sub
                       : op.kind() == fb::OpKind::Mul ? cpu::Binary::Mul
                                                      : cpu::Binary::Div;
    cpu::binary(kind, in(0), inShape(0), in(1), inShape(1), y, outShape);
    return Status::success();
  }
  case fb::OpKind::LayerNorm: {
    int64_t dim = outShape.back();
    cpu::layerNorm(in(0), in(1), in(2), numElements(outShape) / dim, dim,
                   op.floats()->Get(0), y);
    return Status::success();
  }
  case fb::OpKind::Gelu:
    cpu::gelu(in(0), numElements(outShape), ints(0) != 0, y);
    return Status::success();
  case fb::OpKind::Softmax:
    cpu::softmax(in(0), outShape, ints(0), y);
    return Status::success();
  case fb::OpKind::Attention: {
    int64_t heads = ints(0);
    // The kernel's scratch holds one head's seq x seq scores.
    if (!checkedMul(seq, seq, sizeof(float)))
      return Status::error("attention over ", seq,
                           " tokens: the score scratch overflows");
    cpu::attention(in(0), in(1), in(2), batch, seq, heads,
                   outShape.back() / heads, ints(1) != 0,
                   static_cast<float>(op.floats()->Get(0)), y);
    return Status::success();
  }
  case fb::OpKind::Reshape:
    std::memcpy(y, in(0), numElements(outShape) * sizeof(float));
    return Status::success();
  case fb::OpKind::Transpose: {
    std::vector<int64_t> perm(op.ints()->begin(), op.ints()->end());
    cpu::transpose(in(0), inShape(0), perm, y);
    return Status::success();
  }
  case fb::OpKind::Split: {
    Shape shape = inShape(0);
    int64_t axis = ints(0), offset = 0;
    for (size_t i = 0; i < op.results()->size(); ++i) {
      int64_t size = ints(i + 1);
      cpu::sliceAxis(in(0), shape, axis, offset, offset + size,
                     reinterpret_cast<float *>(data(op.results()->Get(i))));
      offset += size;
    }
    return Status::success();
  }
  case fb::OpKind::Concat: {
    int64_t axis = ints(0), offset = 0;
    for (size_t i = 0; i < operands->size(); ++i) {
      Shape shape = inShape(i);
      cpu::insertAxis(in(i), shape, axis, offset, outShape[axis], y);
      offset += shape[axis];
    }
    return Status::success();
  }
  case fb::OpKind::Slice:
    cpu::sliceAxis(in(0), inShape(0), ints(0), ints(1), ints(2), y);
    return Status::success();
  case fb::OpKind::Constant:
    return Status::error("constants are not supported by the CPU backend");
  case fb::OpKind::AllReduce: {
    size_t n = numElements(outShape);
    if (y != in(0))
      std::memcpy(y, in(0), n * sizeof(float));
    return comm.allReduceSum(y, n);
  }
  case fb::OpKind::AllGather: {
    // Gather contiguous chunks, then interleave them along `dim`.
    Shape local = inShape(0);
    int64_t dim = ints(0), outer = 1;
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
  case fb::OpKind::ReduceScatter: {
    Shape full = inShape(0);
    int64_t dim = ints(0), outer = 1;
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
  case fb::OpKind::ShardSlice: {
    Shape full = inShape(0);
    int64_t dim = ints(0);
    if (full[dim] % tp != 0)
      return Status::error("'", layer, "': dim ", dim, " of size ", full[dim],
                           " is not divisible by tp=", tp);
    int64_t part = full[dim] / tp;
    cpu::sliceAxis(in(0), full, dim, rank * part, (rank + 1) * part, y);
    return Status::success();
  }
  }
  return Status::error("unknown op kind");
}

Status Executor::run(
    const int64_t *tokens, int64_t b, int64_t s, std::vector<OpEvent> *trace,
    std::vector<std::pair<std::string, std::vector<float>>> *checkpoints) {
  batch = b;
  seq = s;
  // The loader bounds the peak (2^44) and the token reader b x s (2^40):
  // the product is checked, not assumed.
  std::optional<int64_t> plan = checkedProduct(
      std::initializer_list<int64_t>{b, s}, fn.peak_bytes_per_token());
  if (!plan || *plan > std::numeric_limits<int64_t>::max() - 64)
    return Status::error("the memory plan of ", fn.peak_bytes_per_token(),
                         " bytes per token overflows for ", b, "x", s,
                         " tokens");
  size_t need = static_cast<size_t>(*plan) + 64;
  if (need > arenaBytes) {
    void *p = aligned_alloc(64, (need + 63) / 64 * 64);
    if (!p)
      return Status::error("out of memory: the memory plan needs ", need,
                           " bytes for ", b * s, " tokens");
    arena.reset(static_cast<uint8_t *>(p));
    arenaBytes = need;
  }
  std::memcpy(data(fn.input()), tokens, sizeof(int64_t) * b * s);
  auto start = std::chrono::steady_clock::now();
  auto micros = [&](auto t) {
    return std::chrono::duration<double, std::micro>(t - start).count();
  };
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
            checkpoints->emplace_back(
                fn.values()->Get(c)->name()->str(),
                std::vector<float>(floatData(c), floatData(c) + n));
          }
    if (trace) {
      auto t1 = std::chrono::steady_clock::now();
      bool collective = op->kind() >= fb::OpKind::AllReduce;
      trace->push_back({fb::EnumNameOpKind(op->kind()),
                        op->layer() ? op->layer()->str() : "", collective,
                        micros(t0), micros(t1) - micros(t0)});
    }
  }
  return Status::success();
}
