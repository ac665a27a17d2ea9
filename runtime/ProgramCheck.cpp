//===- ProgramCheck.cpp - shape checks of a program function
//---------------===//
//
// A program file may come from anywhere, so before any executor runs it every
// op's operand shapes are checked against what its kernel reads and writes,
// with batch and seq symbolic. After this, kernels index only in bounds.
//
//===----------------------------------------------------------------------===//
#include "runtime/CheckedMath.h"
#include "runtime/Program.h"

#include <algorithm>
#include <numeric>

using namespace rose;

namespace {

/// Symbolic dims: kBatch and kSeq stand for the token tensor's dims.
constexpr int64_t kBatch = -2, kSeq = -3;
using Dims = std::vector<int64_t>;

struct Checker {
  const fb::Function &fn;
  std::vector<Dims> valueDims; // full dims incl. [batch, seq]
  std::vector<bool> defined;

  Dims valueShape(int32_t v) const {
    return rose::valueShape(fn, v, kBatch, kSeq);
  }
  Dims shape(const fb::Operand *o) const {
    return operandShape(fn, o, kBatch, kSeq);
  }
  fb::ElementType type(const fb::Operand *o) const {
    return o->param() >= 0 ? fn.params()->Get(o->param())->type()
                           : fn.values()->Get(o->value())->type();
  }
};

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

/// The product of d[from..]; nullopt on overflow.
std::optional<int64_t> product(const Dims &d, size_t from = 0) {
  std::optional<int64_t> n = 1;
  for (size_t i = from; n && i < d.size(); ++i)
    n = checkedMul(*n, d[i]);
  return n;
}

} // namespace

Status checkFunctionShapes(const fb::Function &fn) {
  Checker c{fn, {}, std::vector<bool>(fn.values()->size(), false)};
  auto isF32 = [](fb::ElementType t) { return t == fb::ElementType::F32; };
  const fb::Value *input = fn.values()->Get(fn.input());
  if (input->type() != fb::ElementType::I64 ||
      (input->dims() && input->dims()->size() != 0))
    return Status::error("the input must be int64 token ids [batch, seq]");
  c.defined[fn.input()] = true;
  for (size_t index = 0; index < fn.ops()->size(); ++index) {
    const fb::Op &op = *fn.ops()->Get(index);
    auto fail = [&](const auto &...args) {
      return Status::error("op #", index, " (", fb::EnumNameOpKind(op.kind()),
                           "): ", args...);
    };
    auto operands = op.operands();
    for (const fb::Operand *o : *operands)
      if (o->value() >= 0 && !c.defined[o->value()])
        return fail("uses a value before it is defined");
    for (int32_t r : *op.results()) {
      if (c.defined[r])
        return fail("redefines a value");
      c.defined[r] = true;
    }
    auto ints = [&](size_t i) { return op.ints()->Get(i); };
    Dims out = c.valueShape(op.results()->Get(0));
    bool floatResult = isF32(fn.values()->Get(op.results()->Get(0))->type());
    auto in = [&](size_t i) { return c.shape(operands->Get(i)); };
    auto allFloat = [&]() {
      for (const fb::Operand *o : *operands)
        if (!isF32(c.type(o)))
          return false;
      return floatResult;
    };
    bool ok = true;
    switch (op.kind()) {
    case fb::OpKind::Embedding: {
      Dims table = in(0), ids = in(1);
      ok = operands->Get(0)->param() >= 0 && operands->Get(1)->value() >= 0 &&
           table.size() == 2 && ids == Dims{kBatch, kSeq} &&
           c.type(operands->Get(1)) == fb::ElementType::I64 &&
           isF32(c.type(operands->Get(0))) && floatResult &&
           out == Dims({kBatch, kSeq, table[1]}) && ints(0) >= 0 &&
           ints(0) <= fn.tp();
      break;
    }
    case fb::OpKind::Positions:
      ok = in(0) == Dims{kBatch, kSeq} && out == Dims{kBatch, kSeq} &&
           c.type(operands->Get(0)) == fb::ElementType::I64 &&
           fn.values()->Get(op.results()->Get(0))->type() ==
               fb::ElementType::I64 &&
           ints(0) >= 0;
      break;
    case fb::OpKind::MatMul: {
      Dims x = in(0), w = in(1);
      bool t = ints(0) != 0;
      ok = allFloat() && operands->Get(0)->value() >= 0 &&
           operands->Get(1)->param() >= 0 && w.size() == 2 && x.size() >= 3;
      if (!ok)
        break;
      int64_t k = t ? w[1] : w[0], n = t ? w[0] : w[1];
      Dims expected(x.begin(), x.end() - 1);
      expected.push_back(n);
      ok = x.back() == k && out == expected &&
           (operands->size() < 3 || in(2) == Dims{n});
      break;
    }
    case fb::OpKind::Add:
    case fb::OpKind::Sub:
    case fb::OpKind::Mul:
    case fb::OpKind::Div:
      ok = allFloat() && broadcasts(in(0), in(1), out);
      break;
    case fb::OpKind::LayerNorm:
      ok = allFloat() && operands->Get(0)->value() >= 0 && in(0) == out &&
           out.size() >= 3 && in(1) == Dims{out.back()} &&
           in(2) == Dims{out.back()};
      break;
    case fb::OpKind::Gelu:
      ok = allFloat() && in(0) == out;
      break;
    case fb::OpKind::Softmax:
      ok = allFloat() && in(0) == out && ints(0) >= 2 &&
           ints(0) < static_cast<int64_t>(out.size());
      break;
    case fb::OpKind::Attention:
      ok = allFloat() && out.size() == 3 && in(0) == out && in(1) == out &&
           in(2) == out && ints(0) > 0 && out[2] % ints(0) == 0 &&
           operands->Get(0)->value() >= 0 && operands->Get(1)->value() >= 0 &&
           operands->Get(2)->value() >= 0;
      break;
    case fb::OpKind::Reshape:
      ok = allFloat() && operands->Get(0)->value() >= 0 && product(in(0), 2) &&
           product(in(0), 2) == product(out, 2);
      break;
    case fb::OpKind::Transpose: {
      Dims x = in(0), perm(op.ints()->begin(), op.ints()->end());
      Dims sorted = perm;
      std::sort(sorted.begin(), sorted.end());
      Dims iota(x.size());
      std::iota(iota.begin(), iota.end(), 0);
      ok = allFloat() && operands->Get(0)->value() >= 0 && sorted == iota &&
           perm[0] == 0 && perm[1] == 1;
      if (ok)
        for (size_t i = 0; i < perm.size(); ++i)
          ok &= out[i] == x[perm[i]];
      break;
    }
    case fb::OpKind::Split: {
      Dims x = in(0);
      int64_t axis = ints(0);
      ok = allFloat() && operands->Get(0)->value() >= 0 && axis >= 2 &&
           axis < static_cast<int64_t>(x.size()) &&
           op.ints()->size() == op.results()->size() + 1;
      int64_t total = 0;
      for (size_t i = 0; ok && i < op.results()->size(); ++i) {
        Dims r = c.valueShape(op.results()->Get(i)), e = x;
        e[axis] = ints(i + 1);
        ok = ints(i + 1) > 0 && r == e &&
             isF32(fn.values()->Get(op.results()->Get(i))->type());
        total += ints(i + 1);
      }
      ok = ok && total == x[axis];
      break;
    }
    case fb::OpKind::Concat: {
      int64_t axis = ints(0), total = 0;
      ok = allFloat() && axis >= 2 && axis < static_cast<int64_t>(out.size());
      for (size_t i = 0; ok && i < operands->size(); ++i) {
        Dims x = in(i);
        ok = operands->Get(i)->value() >= 0 && x.size() == out.size();
        for (size_t d = 0; ok && d < x.size(); ++d)
          ok = static_cast<int64_t>(d) == axis || x[d] == out[d];
        total += ok ? x[axis] : 0;
      }
      ok = ok && total == out[axis];
      break;
    }
    case fb::OpKind::Slice: {
      Dims x = in(0), e = x;
      int64_t axis = ints(0), start = ints(1), end = ints(2);
      ok = allFloat() && operands->Get(0)->value() >= 0 && axis >= 2 &&
           axis < static_cast<int64_t>(x.size()) && 0 <= start && start < end &&
           end <= x[axis];
      if (ok) {
        e[axis] = end - start;
        ok = out == e;
      }
      break;
    }
    case fb::OpKind::Constant:
      ok = false;
      break;
    case fb::OpKind::AllReduce:
      ok = allFloat() && operands->Get(0)->value() >= 0 && in(0) == out;
      break;
    case fb::OpKind::AllGather:
    case fb::OpKind::ReduceScatter:
    case fb::OpKind::ShardSlice: {
      Dims x = in(0), e = x;
      int64_t dim = ints(0);
      ok = allFloat() && operands->Get(0)->value() >= 0 && dim >= 2 &&
           dim < static_cast<int64_t>(x.size());
      if (!ok)
        break;
      if (op.kind() == fb::OpKind::AllGather)
        e[dim] = x[dim] * fn.tp();
      else
        ok = x[dim] % fn.tp() == 0, e[dim] = x[dim] / fn.tp();
      ok = ok && out == e;
      break;
    }
    }
    if (!ok)
      return fail("operand shapes or attributes do not fit the op");
  }
  const fb::Value *output = fn.values()->Get(fn.output());
  if (!c.defined[fn.output()] || output->type() != fb::ElementType::F32 ||
      !output->dims() || output->dims()->size() != 1)
    return Status::error("the output must be float32 logits [batch, seq, "
                         "vocab] computed by the program");
  return Status::success();
}
