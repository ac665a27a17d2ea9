//===- ProgramCheck.cpp - every op's shapes at one binding ----------------===//
//
// A program file may come from anywhere, so before an executor runs a call
// every op's operand and result shapes (evaluated for that call's symbols),
// element types and attributes are checked against what its kernel reads
// and writes. After this, kernels index only in bounds.
//
//===----------------------------------------------------------------------===//
#include "runtime/CheckedMath.h"
#include "runtime/Program.h"

#include <algorithm>
#include <map>
#include <numeric>

using namespace rose;

namespace {

using Dims = Shape;

bool broadcasts(const Dims &a, const Dims &b, const Dims &out) {
  if (a.size() > out.size() || b.size() > out.size())
    return false;
  for (size_t i = 0; i < out.size(); ++i) {
    auto dim = [&](const Dims &d) -> int64_t {
      return i < d.size() ? d[d.size() - 1 - i] : 1;
    };
    int64_t x = dim(a), y = dim(b), o = out[out.size() - 1 - i];
    if (!((x == o || x == 1) && (y == o || y == 1)))
      return false;
  }
  return true;
}

bool validAxis(int64_t axis, const Dims &x) {
  return axis >= 0 && axis < static_cast<int64_t>(x.size());
}

/// The checks of one op; `in(i)` are operand shapes, `out(i)` result shapes.
struct OpCheck {
  const Entry &entry;
  const fb::Op &op;
  const std::vector<Shape> &shapes;
  const std::vector<Shape> &params;

  const Dims &in(size_t i) const {
    return operandShape(shapes, params, op.operands()->Get(i));
  }
  const Dims &out(size_t i = 0) const { return shapes[op.results()->Get(i)]; }
  bool isValue(size_t i) const { return op.operands()->Get(i)->value() >= 0; }
  bool isParam(size_t i) const { return !isValue(i); }
  fb::ElementType type(size_t i) const {
    const fb::Operand *o = op.operands()->Get(i);
    return o->param() >= 0 ? entry.param(o->param())->type()
                           : entry.value(o->value())->type();
  }
  fb::ElementType resultType(size_t i = 0) const {
    return entry.value(op.results()->Get(i))->type();
  }
  /// Every operand and result float32 (the kernels' storage type).
  bool allFloat() const {
    for (size_t i = 0; i < op.operands()->size(); ++i)
      if (type(i) != fb::ElementType::F32)
        return false;
    for (size_t i = 0; i < op.results()->size(); ++i)
      if (resultType(i) != fb::ElementType::F32)
        return false;
    return true;
  }

  bool run() const;
  bool collective(int32_t axis, int32_t dim) const;
};

bool OpCheck::collective(int32_t axis, int32_t dim) const {
  const Dims &x = in(0);
  if (!allFloat() || !isValue(0) || !validAxis(dim, x))
    return false;
  int64_t size = entry.axisSize(axis);
  Dims e = x;
  switch (op.attrs_type()) {
  case fb::OpAttrs::AllGather: {
    std::optional<int64_t> gathered = checkedMul(x[dim], size);
    if (!gathered)
      return false;
    e[dim] = *gathered;
    break;
  }
  default: // ReduceScatter, ShardSlice
    if (x[dim] % size != 0)
      return false;
    e[dim] = x[dim] / size;
  }
  return out() == e;
}

bool OpCheck::run() const {
  switch (op.attrs_type()) {
  case fb::OpAttrs::Embedding: {
    auto *a = op.attrs_as_Embedding();
    const Dims &table = in(0), &ids = in(1);
    Dims expected = ids;
    if (table.size() == 2)
      expected.push_back(table[1]);
    return isParam(0) && isValue(1) && table.size() == 2 && ids.size() == 2 &&
           type(1) == fb::ElementType::I64 && type(0) == fb::ElementType::F32 &&
           resultType() == fb::ElementType::F32 && out() == expected &&
           a->vocab_shards() >= 0 &&
           (a->vocab_shards() == 0 ||
            a->vocab_shards() == entry.axisSize(a->axis()));
  }
  case fb::OpAttrs::Positions:
    return in(0).size() == 2 && out() == in(0) &&
           type(0) == fb::ElementType::I64 &&
           resultType() == fb::ElementType::I64 &&
           op.attrs_as_Positions()->offset() >= 0;
  case fb::OpAttrs::MatMul: {
    const Dims &x = in(0), &w = in(1);
    bool t = op.attrs_as_MatMul()->transpose_rhs();
    // x is an activation, or a constant times an activation w (HF's rotary
    // frequencies times the positions).
    if (!allFloat() || (!isValue(0) && !isValue(1)) || x.size() < 2 ||
        w.size() < 2)
      return false;
    int64_t k = w[w.size() - (t ? 1 : 2)], n = w[w.size() - (t ? 2 : 1)];
    if (k <= 0 || x.back() != k)
      return false;
    if (isParam(1)) {
      // A weight: 2-D, applied to every row of x, an optional bias [n].
      Dims expected(x.begin(), x.end() - 1);
      expected.push_back(n);
      return w.size() == 2 && out() == expected &&
             (op.operands()->size() < 3 || in(2) == Dims{n});
    }
    // Two activations: batch dims broadcast; no bias.
    Dims xb(x.begin(), x.end() - 2), wb(w.begin(), w.end() - 2);
    Dims expected(out().begin(),
                  out().end() - std::min<size_t>(2, out().size()));
    if (op.operands()->size() != 2 || out().size() < 2 ||
        !broadcasts(xb, wb, expected))
      return false;
    expected.push_back(x[x.size() - 2]);
    expected.push_back(n);
    return out() == expected;
  }
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
    return allFloat() && broadcasts(in(0), in(1), out());
  case fb::OpAttrs::Where:
    return allFloat() && broadcasts(in(1), in(2), out()) &&
           broadcasts(in(0), out(), out());
  case fb::OpAttrs::Iota:
    return out().size() == 1 && resultType() == fb::ElementType::I64;
  case fb::OpAttrs::Fill:
    return resultType() == fb::ElementType::F32;
  case fb::OpAttrs::Cast:
    return type(0) == fb::ElementType::I64 &&
           resultType() == fb::ElementType::F32 && in(0) == out();
  case fb::OpAttrs::Trilu:
    return allFloat() && out().size() >= 2 && in(0) == out();
  case fb::OpAttrs::Gather: {
    auto *a = op.attrs_as_Gather();
    const Dims &x = in(0), &idx = in(1);
    if (type(0) != fb::ElementType::F32 || type(1) != fb::ElementType::I64 ||
        resultType() != fb::ElementType::F32 || !validAxis(a->axis(), x) ||
        !isValue(1))
      return false;
    Dims e(x.begin(), x.begin() + a->axis());
    e.insert(e.end(), idx.begin(), idx.end());
    e.insert(e.end(), x.begin() + a->axis() + 1, x.end());
    return out() == e;
  }
  case fb::OpAttrs::Reduce: {
    auto *a = op.attrs_as_Reduce();
    const Dims &x = in(0);
    if (!allFloat() || !validAxis(a->axis(), x) || x[a->axis()] <= 0)
      return false;
    Dims e = x;
    e[a->axis()] = 1;
    return out() == e;
  }
  case fb::OpAttrs::LayerNorm:
    return allFloat() && isValue(0) && in(0) == out() && !out().empty() &&
           in(1) == Dims{out().back()} && in(2) == Dims{out().back()} &&
           op.attrs_as_LayerNorm()->epsilon() >= 0;
  case fb::OpAttrs::RmsNorm:
    return allFloat() && isValue(0) && in(0) == out() && !out().empty() &&
           in(1) == Dims{out().back()} && op.attrs_as_RmsNorm()->epsilon() >= 0;
  case fb::OpAttrs::Rotary: {
    // x [batch, seq, heads x head_dim], positions [batch, seq] i64; at most
    // head_dim / 2 frequencies (and at most 128: the CUDA kernel's limit).
    auto *a = op.attrs_as_Rotary();
    const Dims &x = in(0);
    int64_t pairs = a->inv_freq()->size();
    return isValue(0) && isValue(1) && x.size() == 3 && out() == x &&
           type(0) == fb::ElementType::F32 &&
           resultType() == fb::ElementType::F32 &&
           type(1) == fb::ElementType::I64 && in(1) == Dims{x[0], x[1]} &&
           a->heads() > 0 && x[2] % a->heads() == 0 && pairs > 0 &&
           pairs <= 128 && 2 * pairs <= x[2] / a->heads();
  }
  case fb::OpAttrs::Gelu:
  case fb::OpAttrs::Unary:
    return allFloat() && in(0) == out();
  case fb::OpAttrs::Softmax:
    return allFloat() && in(0) == out() &&
           validAxis(op.attrs_as_Softmax()->axis(), out());
  case fb::OpAttrs::Attention: {
    // q and the result are [batch, seq, heads x head_dim], k and v
    // [batch, seq, kv_heads x head_dim] (kv_heads 0: heads), or with
    // kv_len caches of any rows (the rows used are checked per call).
    auto *a = op.attrs_as_Attention();
    int64_t heads = a->heads(), kv = a->kv_heads() ? a->kv_heads() : heads;
    const Dims &o = out();
    if (!allFloat() || o.size() != 3 || in(0) != o || heads <= 0 || kv <= 0 ||
        a->window() < 0 || heads % kv != 0 || o[2] % heads != 0 ||
        !isValue(0) || !isValue(1) || !isValue(2) || in(1).size() != 3)
      return false;
    Dims kvDims = {o[0], a->kv_len() ? in(1)[1] : o[1], o[2] / heads * kv};
    return in(1) == kvDims && in(2) == kvDims && checkedMul(o[1], kvDims[1], 4);
  }
  case fb::OpAttrs::Reshape: {
    std::optional<int64_t> a = checkedProduct(in(0)), b = checkedProduct(out());
    return allFloat() && isValue(0) && a && a == b;
  }
  case fb::OpAttrs::Transpose: {
    auto *perm = op.attrs_as_Transpose()->perm();
    const Dims &x = in(0);
    Dims sorted(perm->begin(), perm->end()), iota(x.size());
    std::sort(sorted.begin(), sorted.end());
    std::iota(iota.begin(), iota.end(), 0);
    if (!allFloat() || !isValue(0) || sorted != iota ||
        out().size() != x.size())
      return false;
    for (size_t i = 0; i < perm->size(); ++i)
      if (out()[i] != x[perm->Get(i)])
        return false;
    return true;
  }
  case fb::OpAttrs::Split: {
    auto *a = op.attrs_as_Split();
    const Dims &x = in(0);
    if (!allFloat() || !isValue(0) || !validAxis(a->axis(), x))
      return false;
    std::optional<int64_t> total = 0;
    for (size_t i = 0; i < a->sizes()->size(); ++i) {
      int64_t size = a->sizes()->Get(i);
      Dims e = x;
      e[a->axis()] = size;
      if (size <= 0 || out(i) != e || !(total = checkedAdd(*total, size)))
        return false;
    }
    return total == x[a->axis()];
  }
  case fb::OpAttrs::Concat: {
    int64_t axis = op.attrs_as_Concat()->axis();
    const Dims &o = out();
    if (!allFloat() || !validAxis(axis, o))
      return false;
    std::optional<int64_t> total = 0;
    for (size_t i = 0; i < op.operands()->size(); ++i) {
      const Dims &x = in(i);
      if (!isValue(i) || x.size() != o.size())
        return false;
      for (size_t d = 0; d < x.size(); ++d)
        if (static_cast<int64_t>(d) != axis && x[d] != o[d])
          return false;
      if (!(total = checkedAdd(*total, x[axis])))
        return false;
    }
    return total == o[axis];
  }
  case fb::OpAttrs::Slice: {
    auto *a = op.attrs_as_Slice();
    const Dims &x = in(0);
    if (!allFloat() || !isValue(0) || !validAxis(a->axis(), x) ||
        a->start() >= a->end())
      return false;
    if (a->from_end() ? a->end() > 0 || a->start() < -x[a->axis()]
                      : a->start() < 0 || a->end() > x[a->axis()])
      return false;
    Dims e = x;
    e[a->axis()] = a->end() - a->start();
    return out() == e;
  }
  case fb::OpAttrs::AllReduce:
    return allFloat() && isValue(0) && in(0) == out();
  case fb::OpAttrs::AllGather: {
    auto *a = op.attrs_as_AllGather();
    return collective(a->axis(), a->dim());
  }
  case fb::OpAttrs::ReduceScatter: {
    auto *a = op.attrs_as_ReduceScatter();
    return collective(a->axis(), a->dim());
  }
  case fb::OpAttrs::ShardSlice: {
    auto *a = op.attrs_as_ShardSlice();
    return collective(a->axis(), a->dim());
  }
  case fb::OpAttrs::AllToAll: {
    auto *a = op.attrs_as_AllToAll();
    const Dims &x = in(0);
    int32_t split = a->split_dim(), concat = a->concat_dim();
    if (!allFloat() || !isValue(0) || !validAxis(split, x) ||
        !validAxis(concat, x) || split == concat)
      return false;
    int64_t size = entry.axisSize(a->axis());
    std::optional<int64_t> gathered = checkedMul(x[concat], size);
    if (!gathered || x[split] % size != 0)
      return false;
    Dims e = x;
    e[split] = x[split] / size;
    e[concat] = *gathered;
    return out() == e;
  }
  case fb::OpAttrs::CacheWrite: {
    // The update fits the cache but for the rows along `axis`; whether the
    // rows it writes exist depends on the offset, checked per call.
    int32_t axis = op.attrs_as_CacheWrite()->axis();
    const Dims &cache = in(0), &update = in(1);
    if (!allFloat() || !validAxis(axis, cache) ||
        update.size() != cache.size() || out() != cache)
      return false;
    for (size_t d = 0; d < cache.size(); ++d)
      if (static_cast<int32_t>(d) != axis && cache[d] != update[d])
        return false;
    return true;
  }
  default:
    return false;
  }
}

} // namespace

Status rose::checkOps(const Entry &entry, const std::vector<Shape> &shapes) {
  const fb::Function &fn = *entry.fn;
  std::vector<Shape> params = paramShapes(*entry.program);
  std::vector<bool> defined(fn.values()->size(), false);
  for (int32_t v : *fn.inputs())
    defined[v] = true;
  // A persistent buffer's contents at the call's start: the one value of
  // that buffer no op produces. Each cache_write makes a newer value of it,
  // and only the newest may be read (the older ones were overwritten).
  std::map<int32_t, int32_t> newest;
  std::vector<bool> produced(fn.values()->size(), false);
  for (const fb::Op *op : *fn.ops())
    for (int32_t r : *op->results())
      produced[r] = true;
  for (size_t v = 0; v < fn.values()->size(); ++v) {
    int32_t buffer = entry.value(v)->buffer();
    if (buffer < 0 || produced[v])
      continue;
    if (!newest.emplace(buffer, static_cast<int32_t>(v)).second)
      return Status::error("buffer '",
                           entry.program->buffers()->Get(buffer)->name()->str(),
                           "' has two values at the call's start");
    defined[v] = true;
  }
  for (size_t index = 0; index < fn.ops()->size(); ++index) {
    const fb::Op &op = *fn.ops()->Get(index);
    auto fail = [&](const auto &...args) {
      return Status::error("op #", index, " (", opName(op), "): ", args...);
    };
    for (const fb::Operand *o : *op.operands()) {
      if (o->value() >= 0 && !defined[o->value()])
        return fail("uses a value before it is defined");
      int32_t buffer = o->value() >= 0 ? entry.value(o->value())->buffer() : -1;
      if (buffer >= 0 && newest[buffer] != o->value())
        return fail("reads an overwritten version of a persistent buffer");
    }
    for (int32_t r : *op.results()) {
      if (defined[r])
        return fail("redefines a value");
      defined[r] = true;
      if (int32_t buffer = entry.value(r)->buffer(); buffer >= 0)
        newest[buffer] = r;
    }
    if (!OpCheck{entry, op, shapes, params}.run())
      return fail("operand shapes or attributes do not fit the op");
  }
  int32_t output = entry.output();
  const Shape &logits = shapes[output];
  const Shape &ids = shapes[entry.input()];
  // Prefill may keep only each sequence's last position.
  bool lastRow = fn.name() && fn.name()->str() == "prefill" &&
                 logits.size() == 3 && logits[1] == 1;
  if (!defined[output] || entry.value(output)->type() != fb::ElementType::F32 ||
      logits.size() != 3 || logits[0] != ids[0] ||
      (logits[1] != ids[1] && !lastRow))
    return Status::error("the output must be float32 logits [batch, seq, "
                         "vocab] computed by the program");
  // Vocab-sharded logits: one column block per rank of mesh axis 0, which
  // together cover the vocab.
  int32_t batchAxis = fn.batch_axis();
  if (batchAxis < -1 ||
      batchAxis >= static_cast<int32_t>(entry.program->mesh()->size()))
    return Status::error("batch_axis ", batchAxis, " is not a mesh axis");
  int64_t shards = fn.logits_vocab_shards();
  if (shards > 0 && entry.program->mesh()->size() != 1)
    return Status::error("vocab-sharded logits need a 1-D mesh");
  if (shards < 0 ||
      (shards > 0 &&
       (shards != entry.axisSize(0) || !checkedMul(logits[2], shards) ||
        logits[2] * shards < entry.program->vocab_size())))
    return Status::error(
        "logits_vocab_shards ", shards, " does not split the vocab of ",
        entry.program->vocab_size(), " into blocks of ", logits[2]);
  return Status::success();
}
