//===- Executor.cpp - runs one rank of a program on a backend -------------===//
#include "runtime/Executor.h"
#include "runtime/Shape.h"

#include <algorithm>

using namespace rose;

Executor::Executor(const Entry &entry, Backend &backend,
                   std::vector<Communicator *> comms)
    : entry_(entry), backend(backend), comms(std::move(comms)),
      paramShapes_(paramShapes(*entry.program)) {}

StatusOr<void *> BufferSet::get(const fb::Program &program, int32_t index,
                                const Shape &shape) {
  if (static_cast<size_t>(index) >= buffers.size()) {
    buffers.resize(index + 1);
    shapes.resize(index + 1);
  }
  const fb::Buffer &b = *program.buffers()->Get(index);
  if (buffers[index]) {
    if (shapes[index] == shape)
      return buffers[index].get();
    return Status::error("buffer '", b.name()->str(), "' holds ",
                         shapeString(shapes[index]), " but this call needs ",
                         shapeString(shape), " (reset the buffers first)");
  }
  size_t bytes = numElements(shape) * storageBytes(backend.storage());
  auto buffer = backend.allocate(bytes, b.name()->c_str());
  if (!buffer)
    return buffer.status();
  ROSE_RETURN_IF_ERROR(backend.zero(buffer->get(), bytes));
  buffers[index] = buffer.take();
  shapes[index] = shape;
  return buffers[index].get();
}

size_t BufferSet::bytes() const {
  size_t total = 0;
  for (size_t i = 0; i < buffers.size(); ++i)
    if (buffers[i])
      total += numElements(shapes[i]) * storageBytes(backend.storage());
  return total;
}

StatusOr<std::unique_ptr<Executor>>
Executor::create(const Entry &entry, const RankWeights &weights,
                 Backend &backend, Communicator &comm, BufferSet *buffers) {
  return create(entry, weights, backend, std::vector<Communicator *>{&comm},
                buffers);
}

StatusOr<std::unique_ptr<Executor>>
Executor::create(const Entry &entry, const RankWeights &weights,
                 Backend &backend, std::vector<Communicator *> comms,
                 BufferSet *buffers) {
  size_t axes = entry.program->mesh()->size();
  if (comms.size() != axes)
    return Status::error("a mesh of ", axes,
                         " axes needs one communicator "
                         "per axis, got ",
                         comms.size());
  for (size_t a = 0; a < axes; ++a)
    if (!comms[a] || comms[a]->size() != entry.axisSize(a))
      return Status::error("the communicator of mesh axis '",
                           entry.program->mesh()->Get(a)->name()->str(),
                           "' has ", comms[a] ? comms[a]->size() : 0,
                           " ranks, the axis ", entry.axisSize(a));
  std::unique_ptr<Executor> e(new Executor(entry, backend, std::move(comms)));
  if (!buffers) {
    e->ownBuffers = std::make_unique<BufferSet>(backend);
    buffers = e->ownBuffers.get();
  }
  e->buffers = buffers;
  auto placed = backend.placeParams(entry, weights);
  if (!placed)
    return placed.status();
  e->params = placed.take();
  for (size_t i = 0; i < e->params.size(); ++i)
    if (e->params[i])
      e->paramBytes_ +=
          numElements(e->paramShapes_[i]) * storageBytes(backend.storage());
  return e;
}

void *Executor::data(int32_t value) const {
  if (layout.offsets[value] < 0)
    return bufferAddress[value];
  return static_cast<char *>(arena.get()) + layout.offsets[value];
}

const void *Executor::operand(const fb::Operand *o) const {
  if (o->param() >= 0)
    return params[o->param()];
  return data(o->value());
}

const Shape &Executor::operandShape(const fb::Operand *o) const {
  return rose::operandShape(layout.shapes, paramShapes_, o);
}

const float *Executor::hostFloats(int32_t value) const {
  return backend.hostAccessible() && backend.storage() == Storage::F32
             ? static_cast<const float *>(data(value))
             : nullptr;
}

StatusOr<std::vector<float>> Executor::read(int32_t value) {
  std::vector<float> host(numElements(shapeOf(value)));
  ROSE_RETURN_IF_ERROR(finish());
  ROSE_RETURN_IF_ERROR(backend.download(host.data(), data(value), host.size()));
  return host;
}

Status Executor::bind(int64_t b, int64_t s, const CallLayout *laid,
                      const SymbolValues &extra) {
  if (bound && b == batch && s == seq && extra == boundExtra &&
      boundGeneration == buffers->generation())
    return Status::success();
  // Bound last, so a failure leaves the executor unbound (the next call
  // lays out again instead of trusting a half-sized arena).
  bound = false;
  if (laid) {
    layout = *laid;
  } else {
    auto made = layoutCall(entry_, b, s, extra);
    if (!made)
      return made.status();
    layout = made.take();
  }
  // The plan's byte offsets are for float32 values; narrower storage fits
  // in the same slots.
  size_t need = static_cast<size_t>(layout.arenaBytes) + 256;
  if (need > arenaBytes) {
    arena.reset();
    arenaBytes = 0;
    auto buffer = backend.allocate(need, "the memory plan");
    if (!buffer)
      return buffer.status().withContext(std::to_string(b) + "x" +
                                         std::to_string(s) + " tokens");
    arena = buffer.take();
    arenaBytes = need;
  }
  // all_gather and reduce_scatter stage the whole tensor; all_to_all stages
  // what it sends and what it receives.
  size_t staging = 0;
  for (const fb::Op *op : *entry_.fn->ops()) {
    fb::OpAttrs kind = op->attrs_type();
    int32_t whole =
        kind == fb::OpAttrs::AllGather ? op->results()->Get(0)
        : kind == fb::OpAttrs::ReduceScatter || kind == fb::OpAttrs::AllToAll
            ? op->operands()->Get(0)->value()
            : -1;
    if (whole >= 0)
      staging = std::max<size_t>(staging,
                                 numElements(shapeOf(whole)) *
                                     storageBytes(backend.storage()) *
                                     (kind == fb::OpAttrs::AllToAll ? 2 : 1));
  }
  if (staging > scratchBytes) {
    scratch.reset();
    scratchBytes = 0;
    auto buffer = backend.allocate(staging, "collective staging");
    if (!buffer)
      return buffer.status();
    scratch = buffer.take();
    scratchBytes = staging;
  }
  bufferAddress.assign(layout.offsets.size(), nullptr);
  for (size_t v = 0; v < layout.offsets.size(); ++v)
    if (int32_t index = entry_.value(v)->buffer(); index >= 0) {
      auto address = buffers->get(*entry_.program, index, layout.shapes[v]);
      if (!address)
        return address.status();
      bufferAddress[v] = *address;
    }
  batch = b;
  seq = s;
  boundExtra = extra;
  boundGeneration = buffers->generation();
  bound = true;
  return Status::success();
}

/// Rows [xStart, xStart + len) of x's `axis` to rows [yStart, yStart + len)
/// of y's (yRows long), x and y agreeing on every other dim.
Status Executor::copyAxis(const void *x, const Shape &xShape, int64_t axis,
                          int64_t xStart, void *y, int64_t yRows,
                          int64_t yStart, int64_t len) {
  AxisSplit split = splitAtAxis(xShape, axis);
  size_t row = split.inner * storageBytes(backend.storage());
  if (len == 0 || split.outer == 0 || row == 0)
    return Status::success();
  return backend.copy2D(static_cast<char *>(y) + yStart * row, yRows * row,
                        static_cast<const char *>(x) + xStart * row,
                        xShape[axis] * row, len * row, split.outer);
}

// The program file's enumerators are the kernels' (Elementwise.h).
static_assert(
    static_cast<int>(fb::UnaryFn::Relu) == static_cast<int>(UnaryKind::Relu) &&
    static_cast<int>(fb::UnaryFn::Silu) == static_cast<int>(UnaryKind::Silu) &&
    static_cast<int>(fb::UnaryFn::Neg) == static_cast<int>(UnaryKind::Neg) &&
    static_cast<int>(fb::UnaryFn::Exp) == static_cast<int>(UnaryKind::Exp) &&
    static_cast<int>(fb::UnaryFn::Sqrt) == static_cast<int>(UnaryKind::Sqrt) &&
    static_cast<int>(fb::UnaryFn::Reciprocal) ==
        static_cast<int>(UnaryKind::Reciprocal) &&
    static_cast<int>(fb::UnaryFn::Tanh) == static_cast<int>(UnaryKind::Tanh) &&
    static_cast<int>(fb::UnaryFn::Erf) == static_cast<int>(UnaryKind::Erf) &&
    static_cast<int>(fb::UnaryFn::Sigmoid) ==
        static_cast<int>(UnaryKind::Sigmoid) &&
    static_cast<int>(fb::UnaryFn::Not) == static_cast<int>(UnaryKind::Not) &&
    static_cast<int>(fb::UnaryFn::Cos) == static_cast<int>(UnaryKind::Cos) &&
    static_cast<int>(fb::UnaryFn::Sin) == static_cast<int>(UnaryKind::Sin) &&
    static_cast<int>(fb::UnaryFn::MAX) == static_cast<int>(UnaryKind::Sin));
static_assert(
    static_cast<int>(fb::ReduceFn::Sum) == static_cast<int>(ReduceKind::Sum) &&
    static_cast<int>(fb::ReduceFn::Mean) ==
        static_cast<int>(ReduceKind::Mean) &&
    static_cast<int>(fb::ReduceFn::Max) == static_cast<int>(ReduceKind::Max) &&
    static_cast<int>(fb::ReduceFn::MAX) == static_cast<int>(ReduceKind::Max));
static_assert(static_cast<int>(fb::Epilogue::None) ==
                  static_cast<int>(Epilogue::None) &&
              static_cast<int>(fb::Epilogue::GeluTanh) ==
                  static_cast<int>(Epilogue::GeluTanh) &&
              static_cast<int>(fb::Epilogue::GeluErf) ==
                  static_cast<int>(Epilogue::GeluErf) &&
              static_cast<int>(fb::Epilogue::MAX) ==
                  static_cast<int>(Epilogue::GeluErf));

static BinaryKind binaryKind(fb::OpAttrs k) {
  switch (k) {
  case fb::OpAttrs::Sub:
    return BinaryKind::Sub;
  case fb::OpAttrs::Mul:
    return BinaryKind::Mul;
  case fb::OpAttrs::Div:
    return BinaryKind::Div;
  case fb::OpAttrs::Pow:
    return BinaryKind::Pow;
  case fb::OpAttrs::Max:
    return BinaryKind::Max;
  case fb::OpAttrs::Min:
    return BinaryKind::Min;
  case fb::OpAttrs::Equal:
    return BinaryKind::Equal;
  case fb::OpAttrs::Less:
    return BinaryKind::Less;
  case fb::OpAttrs::Greater:
    return BinaryKind::Greater;
  default:
    return BinaryKind::Add;
  }
}

/// x [..., m, k] times a 2-D rhs (every row of x, one GEMM), or times a
/// value [..., k, n] whose batch dims broadcast against x's: one batched
/// call when each operand's batches are evenly strided (the same batch dims
/// as the result, or none), else one call per batch.
Status Executor::matmul(const fb::Op &op, const void *x, const Shape &xShape,
                        const void *w, const Shape &wShape, const void *bias,
                        void *y, const Shape &outShape) {
  bool t = op.attrs_as_MatMul()->transpose_rhs();
  auto epilogue = static_cast<Epilogue>(op.attrs_as_MatMul()->epilogue());
  size_t wr = wShape.size();
  int64_t k = t ? wShape[wr - 1] : wShape[wr - 2],
          n = t ? wShape[wr - 2] : wShape[wr - 1];
  if (wr == 2)
    return backend.matmul(x, w, bias, 1, numElements(xShape) / k, k, n, t, 0, 0,
                          epilogue, y);
  int64_t m = xShape[xShape.size() - 2];
  Shape batch(outShape.begin(), outShape.end() - 2),
      xb(xShape.begin(), xShape.end() - 2),
      wb(wShape.begin(), wShape.end() - 2);
  int64_t count = numElements(batch), xMat = m * k, wMat = k * n;
  auto even = [&](const Shape &b) -> std::optional<int64_t> {
    if (numElements(b) == 1)
      return 0;
    if (b.size() == batch.size() && b == batch)
      return 1;
    return std::nullopt;
  };
  std::optional<int64_t> xs = even(xb), ws = even(wb);
  if (xs && ws)
    return backend.matmul(x, w, bias, count, m, k, n, t, *xs * xMat, *ws * wMat,
                          epilogue, y);
  Shape xStrides = broadcastStrides(xb, batch.size()),
        wStrides = broadcastStrides(wb, batch.size());
  const size_t es = storageBytes(backend.storage());
  for (int64_t b = 0; b < count; ++b) {
    int64_t xi = 0, wi = 0, rest = b;
    for (size_t d = batch.size(); d-- > 0;) {
      int64_t i = rest % batch[d];
      rest /= batch[d];
      xi += i * xStrides[d];
      wi += i * wStrides[d];
    }
    if (Status s = backend.matmul(static_cast<const char *>(x) + xi * xMat * es,
                                  static_cast<const char *>(w) + wi * wMat * es,
                                  bias, 1, m, k, n, t, 0, 0, epilogue,
                                  static_cast<char *>(y) + b * m * n * es);
        !s)
      return s;
  }
  return Status::success();
}

Status Executor::runOp(const fb::Op &op) {
  auto operands = op.operands();
  int32_t result = op.results()->Get(0);
  void *y = data(result);
  const Shape &outShape = shapeOf(result);
  auto in = [&](size_t i) { return operand(operands->Get(i)); };
  auto inShape = [&](size_t i) -> const Shape & {
    return operandShape(operands->Get(i));
  };
  const size_t es = storageBytes(backend.storage());

  switch (op.attrs_type()) {
  case fb::OpAttrs::Embedding: {
    const Shape &table = inShape(0);
    int64_t shards = op.attrs_as_Embedding()->vocab_shards();
    return backend.embedding(
        in(0), table[0], table[1],
        static_cast<const int64_t *>(data(operands->Get(1)->value())),
        numElements(inShape(1)),
        shards ? comms[op.attrs_as_Embedding()->axis()]->rank() * table[0] : 0,
        shards != 0, y);
  }
  case fb::OpAttrs::Positions: {
    int64_t offset = op.attrs_as_Positions()->offset();
    if (const fb::Dim *shift = op.attrs_as_Positions()->shift()) {
      auto past = evalDim(*entry_.program, *shift, layout.symbols,
                          "the positions' shift");
      if (!past)
        return past.status();
      offset += *past;
    }
    return backend.positions(static_cast<int64_t *>(y), outShape[0],
                             outShape[1], offset);
  }
  case fb::OpAttrs::MatMul:
    return matmul(op, in(0), inShape(0), in(1), inShape(1),
                  operands->size() > 2 ? in(2) : nullptr, y, outShape);
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
    return backend.binary(binaryKind(op.attrs_type()), in(0), inShape(0), in(1),
                          inShape(1), y, outShape);
  case fb::OpAttrs::Iota:
    return backend.positions(static_cast<int64_t *>(y), 1, outShape[0], 0);
  case fb::OpAttrs::Cast:
    return backend.castToFloat(static_cast<const int64_t *>(in(0)),
                               numElements(outShape), y);
  case fb::OpAttrs::Fill:
    return backend.fill(y, numElements(outShape),
                        static_cast<float>(op.attrs_as_Fill()->value()));
  case fb::OpAttrs::Trilu: {
    auto *a = op.attrs_as_Trilu();
    int64_t rows = outShape[outShape.size() - 2], cols = outShape.back();
    int64_t n = numElements(outShape);
    return backend.trilu(in(0), rows * cols != 0 ? n / (rows * cols) : 0, rows,
                         cols, a->k(), a->upper(), y);
  }
  case fb::OpAttrs::Gather: {
    // One row lookup per outer index: [n, inner] rows at the indices.
    const Shape &x = inShape(0), &idx = inShape(1);
    int32_t axis = op.attrs_as_Gather()->axis();
    AxisSplit split = splitAtAxis(x, axis);
    int64_t count = numElements(idx), n = x[axis];
    for (int64_t o = 0; o < split.outer; ++o)
      if (Status s = backend.embedding(
              static_cast<const char *>(in(0)) + o * n * split.inner * es, n,
              split.inner, static_cast<const int64_t *>(in(1)), count, 0, false,
              static_cast<char *>(y) + o * count * split.inner * es);
          !s)
        return s;
    return Status::success();
  }
  case fb::OpAttrs::Where:
    return backend.where(in(0), inShape(0), in(1), inShape(1), in(2),
                         inShape(2), y, outShape);
  case fb::OpAttrs::Reduce: {
    auto *a = op.attrs_as_Reduce();
    const Shape &x = inShape(0);
    AxisSplit split = splitAtAxis(x, a->axis());
    return backend.reduce(static_cast<ReduceKind>(a->fn()), in(0), split.outer,
                          x[a->axis()], split.inner, y);
  }
  case fb::OpAttrs::LayerNorm: {
    int64_t dim = outShape.back();
    if (dim == 0)
      return Status::success();
    return backend.layerNorm(in(0), in(1), in(2), numElements(outShape) / dim,
                             dim, op.attrs_as_LayerNorm()->epsilon(), y);
  }
  case fb::OpAttrs::RmsNorm: {
    int64_t dim = outShape.back();
    if (dim == 0)
      return Status::success();
    return backend.layerNorm(in(0), in(1), nullptr, numElements(outShape) / dim,
                             dim, op.attrs_as_RmsNorm()->epsilon(), y);
  }
  case fb::OpAttrs::Rotary: {
    auto *a = op.attrs_as_Rotary();
    const Shape &x = inShape(0);
    return backend.rotary(in(0), static_cast<const int64_t *>(in(1)),
                          x[0] * x[1], a->heads(), x[2] / a->heads(),
                          a->inv_freq()->data(), a->inv_freq()->size(),
                          a->interleaved(), y);
  }
  case fb::OpAttrs::Unary:
    return backend.unary(static_cast<UnaryKind>(op.attrs_as_Unary()->fn()),
                         in(0), numElements(outShape), y);
  case fb::OpAttrs::Gelu:
    return backend.gelu(in(0), numElements(outShape),
                        op.attrs_as_Gelu()->tanh(), y);
  case fb::OpAttrs::Softmax: {
    int64_t axis = op.attrs_as_Softmax()->axis();
    AxisSplit split = splitAtAxis(outShape, axis);
    return backend.softmax(in(0), split.outer, outShape[axis], split.inner, y);
  }
  case fb::OpAttrs::Attention: {
    // [batch, seq, heads x head_dim]; the checker bounded seq x seq scores.
    auto *a = op.attrs_as_Attention();
    AttentionShape shape;
    shape.batch = outShape[0];
    shape.seq = outShape[1];
    shape.keys = shape.seq;
    shape.kvRows = inShape(1)[1];
    if (const fb::Dim *kvLen = a->kv_len()) {
      // A cache: the first kv_len rows are keys, the queries the last.
      auto keys = evalDim(*entry_.program, *kvLen, layout.symbols,
                          "the attention's kv_len");
      if (!keys)
        return keys.status();
      if (*keys < shape.seq || *keys > shape.kvRows)
        return Status::error("attention over ", *keys, " keys for ", shape.seq,
                             " queries with a cache of ", shape.kvRows,
                             " rows");
      shape.keys = *keys;
    }
    if (a->window() > 0 && shape.keys > a->window())
      return Status::error("a sequence of ", shape.keys,
                           " tokens is longer than the sliding window of ",
                           a->window(),
                           "; sliding-window attention is not supported yet");
    shape.heads = a->heads();
    shape.kvHeads = a->kv_heads() ? a->kv_heads() : a->heads();
    shape.headDim = outShape[2] / a->heads();
    shape.causal = a->causal();
    shape.scale = static_cast<float>(a->scale());
    return backend.attention(in(0), in(1), in(2), shape, y);
  }
  case fb::OpAttrs::Reshape: {
    size_t bytes = numElements(outShape) * es;
    if (y == in(0) || bytes == 0)
      return Status::success();
    return backend.copy2D(y, bytes, in(0), bytes, bytes, 1);
  }
  case fb::OpAttrs::Transpose: {
    auto *perm = op.attrs_as_Transpose()->perm();
    return backend.transpose(
        in(0), inShape(0), std::vector<int64_t>(perm->begin(), perm->end()), y);
  }
  case fb::OpAttrs::Split: {
    auto *a = op.attrs_as_Split();
    const Shape &shape = inShape(0);
    int64_t axis = a->axis(), offset = 0;
    for (size_t i = 0; i < op.results()->size(); ++i) {
      int64_t size = a->sizes()->Get(i);
      ROSE_RETURN_IF_ERROR(copyAxis(in(0), shape, axis, offset,
                                    data(op.results()->Get(i)), size, 0, size));
      offset += size;
    }
    return Status::success();
  }
  case fb::OpAttrs::Concat: {
    int64_t axis = op.attrs_as_Concat()->axis(), offset = 0;
    for (size_t i = 0; i < operands->size(); ++i) {
      const Shape &shape = inShape(i);
      ROSE_RETURN_IF_ERROR(copyAxis(in(i), shape, axis, 0, y, outShape[axis],
                                    offset, shape[axis]));
      offset += shape[axis];
    }
    return Status::success();
  }
  case fb::OpAttrs::Slice: {
    auto *a = op.attrs_as_Slice();
    int64_t len = a->end() - a->start();
    int64_t start =
        a->from_end() ? inShape(0)[a->axis()] + a->start() : a->start();
    return copyAxis(in(0), inShape(0), a->axis(), start, y, len, 0, len);
  }
  case fb::OpAttrs::ShardSlice:
  case fb::OpAttrs::AllReduce:
  case fb::OpAttrs::AllGather:
  case fb::OpAttrs::AllToAll:
  case fb::OpAttrs::ReduceScatter:
    return runCollective(op);
  case fb::OpAttrs::CacheWrite: {
    // In place: y is the cache operand's buffer.
    auto *a = op.attrs_as_CacheWrite();
    const Shape &update = inShape(1);
    int64_t rows = outShape[a->axis()], n = update[a->axis()];
    auto offset = evalDim(*entry_.program, *a->offset(), layout.symbols,
                          "the cache_write offset");
    if (!offset)
      return offset.status();
    if (*offset > rows || n > rows - *offset)
      return Status::error("writing rows [", *offset, ", ", *offset + n,
                           ") of a cache of ", rows, " rows");
    return copyAxis(in(1), update, a->axis(), 0, y, rows, *offset, n);
  }
  default:
    break;
  }
  return Status::error("unknown op kind");
}

Status Executor::enqueue(bool marks, std::vector<Checkpoint> *checkpoints) {
  ROSE_RETURN_IF_ERROR(backend.beginCall());
  const fb::Function &fn = *entry_.fn;
  size_t index = 0;
  for (const fb::Op *op : *fn.ops()) {
    if (marks)
      ROSE_RETURN_IF_ERROR(backend.mark(2 * index));
    Status status = runOp(*op);
    if (!status.ok())
      return op->layer() && op->layer()->size()
                 ? status.withContext("'" + op->layer()->str() + "'")
                 : status.withContext(opName(*op));
    if (marks)
      ROSE_RETURN_IF_ERROR(backend.mark(2 * index + 1));
    if (checkpoints && fn.checkpoints())
      for (int32_t r : *op->results())
        for (int32_t c : *fn.checkpoints())
          if (c == r) {
            // The slot is reused later in the call: read it now.
            auto host = read(c);
            if (!host)
              return host.status();
            checkpoints->push_back(
                {entry_.value(c)->name()->str(), shapeOf(c), host.take()});
          }
    ++index;
  }
  return Status::success();
}

Status Executor::finish() {
  for (Communicator *comm : comms)
    ROSE_RETURN_IF_ERROR(comm->synchronize());
  return backend.finish();
}

Status Executor::run(const int64_t *tokens, int64_t b, int64_t s,
                     std::vector<OpEvent> *trace,
                     std::vector<Checkpoint> *checkpoints,
                     const SymbolValues &extra) {
  ROSE_RETURN_IF_ERROR(bind(b, s, nullptr, extra));
  ROSE_RETURN_IF_ERROR(
      backend.upload(data(entry_.input()), tokens, sizeof(int64_t) * b * s));
  ranAsGraph_ = graphs_ && !trace && !checkpoints &&
                std::all_of(comms.begin(), comms.end(),
                            [](Communicator *c) { return c->capturable(); });
  if (ranAsGraph_)
    ROSE_RETURN_IF_ERROR(backend.launchCaptured([&] { return enqueue(); }));
  else
    ROSE_RETURN_IF_ERROR(enqueue(trace != nullptr, checkpoints));
  ROSE_RETURN_IF_ERROR(finish());
  if (!trace)
    return Status::success();
  const fb::Function &fn = *entry_.fn;
  auto times = backend.markTimes(2 * fn.ops()->size());
  if (!times)
    return times.status();
  size_t i = 0;
  for (const fb::Op *op : *fn.ops()) {
    double start = (*times)[2 * i], end = (*times)[2 * i + 1];
    trace->push_back({opName(*op), op->layer() ? op->layer()->str() : "",
                      isCollective(*op), start, end - start});
    ++i;
  }
  return Status::success();
}
