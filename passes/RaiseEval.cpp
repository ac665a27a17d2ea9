//===- RaiseEval.cpp - evaluating shape-only subgraphs --------------------===//
#include "passes/RaiseEval.h"

#include "dialect/RoseOps.h"
#include "runtime/CheckedMath.h"
#include "runtime/Elementwise.h"
#include "runtime/Shape.h"

#include "llvm/ADT/TypeSwitch.h"

#include <cmath>
#include <numeric>

using namespace mlir;
using namespace mlir::rose;

namespace {

/// Evaluations stay small: masks of a few hundred positions.
constexpr int64_t kMaxElements = int64_t(1) << 22;

int64_t count(llvm::ArrayRef<int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0 || (d && n > kMaxElements / d))
      return -1;
    n *= d;
  }
  return n;
}

/// Numpy broadcasting of every operand, then f over each element.
template <typename F>
std::optional<EvalArray> broadcastMap(llvm::ArrayRef<const EvalArray *> in,
                                      F f) {
  size_t rank = 0;
  for (const EvalArray *a : in)
    rank = std::max(rank, a->shape.size());
  EvalArray out;
  out.shape.assign(rank, 1);
  for (const EvalArray *a : in)
    for (size_t i = 0; i < a->shape.size(); ++i) {
      int64_t d = a->shape[a->shape.size() - 1 - i];
      int64_t &o = out.shape[rank - 1 - i];
      if (o == 1)
        o = d;
      else if (d != 1 && d != o)
        return std::nullopt;
    }
  int64_t n = count(out.shape);
  if (n < 0)
    return std::nullopt;
  std::vector<std::vector<int64_t>> st;
  for (const EvalArray *a : in)
    st.push_back(::rose::broadcastStrides(
        std::vector<int64_t>(a->shape.begin(), a->shape.end()), rank));
  out.data.resize(n);
  llvm::SmallVector<double> args(in.size());
  for (int64_t i = 0; i < n; ++i) {
    int64_t rest = i;
    llvm::SmallVector<int64_t> off(in.size(), 0);
    for (size_t d = rank; d-- > 0;) {
      int64_t idx = rest % out.shape[d];
      rest /= out.shape[d];
      for (size_t k = 0; k < in.size(); ++k)
        off[k] += idx * st[k][d];
    }
    for (size_t k = 0; k < in.size(); ++k)
      args[k] = in[k]->data[off[k]];
    out.data[i] = f(args);
  }
  return out;
}

std::optional<EvalArray> fromConstant(ConstantOp c) {
  auto attr = dyn_cast<DenseElementsAttr>(c.getValue());
  auto type = dyn_cast<RankedTensorType>(c.getType());
  if (!attr || !type || count(type.getShape()) < 0)
    return std::nullopt;
  EvalArray out;
  out.shape.assign(type.getShape().begin(), type.getShape().end());
  if (isa<FloatType>(type.getElementType())) {
    for (APFloat v : attr.getValues<APFloat>())
      out.data.push_back(v.convertToDouble());
  } else if (type.getElementType().isInteger(1)) {
    for (bool v : attr.getValues<bool>())
      out.data.push_back(v);
  } else if (isa<IntegerType>(type.getElementType())) {
    for (APInt v : attr.getValues<APInt>())
      out.data.push_back(static_cast<double>(v.getSExtValue()));
  } else {
    return std::nullopt;
  }
  return out;
}

/// Concatenation along `axis` of arrays equal in every other dim.
std::optional<EvalArray> concat(llvm::ArrayRef<EvalArray> in, int64_t axis) {
  EvalArray out{in.front().shape, {}};
  int64_t rank = out.shape.size();
  axis = axis < 0 ? axis + rank : axis;
  if (axis < 0 || axis >= rank)
    return std::nullopt;
  out.shape[axis] = 0;
  for (const EvalArray &a : in) {
    if (int64_t(a.shape.size()) != rank)
      return std::nullopt;
    for (int64_t d = 0; d < rank; ++d)
      if (d != axis && a.shape[d] != in.front().shape[d])
        return std::nullopt;
    out.shape[axis] += a.shape[axis];
  }
  int64_t outer = 1;
  for (int64_t d = 0; d < axis; ++d)
    outer *= out.shape[d];
  for (int64_t o = 0; o < outer; ++o)
    for (const EvalArray &a : in) {
      int64_t chunk = outer ? int64_t(a.data.size()) / outer : 0;
      out.data.insert(out.data.end(), a.data.begin() + o * chunk,
                      a.data.begin() + (o + 1) * chunk);
    }
  return out;
}

/// x [..., m, k] times w [..., k, n] (or [..., n, k] transposed), batch dims
/// broadcasting.
std::optional<EvalArray> matmul(const EvalArray &x, const EvalArray &w,
                                bool transposeRhs) {
  size_t xr = x.shape.size(), wr = w.shape.size();
  if (xr < 2 || wr < 2)
    return std::nullopt;
  int64_t m = x.shape[xr - 2], k = x.shape[xr - 1];
  int64_t wk = w.shape[wr - (transposeRhs ? 1 : 2)],
          n = w.shape[wr - (transposeRhs ? 2 : 1)];
  if (k != wk)
    return std::nullopt;
  EvalArray xb{llvm::SmallVector<int64_t>(x.shape.begin(), x.shape.end() - 2),
               {}},
      wb{llvm::SmallVector<int64_t>(w.shape.begin(), w.shape.end() - 2), {}};
  // The batch index pairs, by broadcasting the batch offsets.
  auto offsets = [](const EvalArray &b) {
    EvalArray o{b.shape,
                std::vector<double>(std::max<int64_t>(count(b.shape), 0))};
    std::iota(o.data.begin(), o.data.end(), 0.0);
    return o;
  };
  EvalArray xo = offsets(xb), wo = offsets(wb);
  std::optional<EvalArray> xi =
      broadcastMap({&xo, &wo}, [](auto e) { return e[0]; });
  std::optional<EvalArray> wi =
      broadcastMap({&xo, &wo}, [](auto e) { return e[1]; });
  // The work, not just the result, stays small.
  std::optional<int64_t> work = ::rose::checkedMul(m, n);
  work = work ? ::rose::checkedMul(*work, std::max<int64_t>(k, 1)) : work;
  work = work && xi ? ::rose::checkedMul(*work, int64_t(xi->data.size()))
                    : std::nullopt;
  if (!xi || !wi || count(xi->shape) < 0 || !work || *work > kMaxElements)
    return std::nullopt;
  EvalArray out{xi->shape, {}};
  out.shape.push_back(m);
  out.shape.push_back(n);
  if (count(out.shape) < 0)
    return std::nullopt;
  for (size_t b = 0; b < xi->data.size(); ++b) {
    const double *xp = x.data.data() + int64_t(xi->data[b]) * m * k;
    const double *wp = w.data.data() + int64_t(wi->data[b]) * k * n;
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double acc = 0.0;
        for (int64_t l = 0; l < k; ++l)
          acc += xp[i * k + l] * (transposeRhs ? wp[j * k + l] : wp[l * n + j]);
        out.data.push_back(acc);
      }
  }
  return out;
}

} // namespace

std::optional<EvalArray> ShapeEvaluator::evaluate(Value v) {
  if (auto it = memo.find(v); it != memo.end())
    return it->second;
  std::optional<EvalArray> result = compute(v);
  memo[v] = result;
  return result;
}

std::optional<EvalArray> ShapeEvaluator::compute(Value v) {
  Operation *op = v.getDefiningOp();
  if (!op)
    return std::nullopt;
  // The size of dim d of a reference value: a function argument's dynamic
  // dims are the batch (1) and the sequence.
  auto refDim = [&](Value ref, int64_t d) -> std::optional<int64_t> {
    auto type = cast<RankedTensorType>(ref.getType());
    if (d < 0 || d >= type.getRank())
      return std::nullopt;
    if (!type.isDynamicDim(d))
      return type.getDimSize(d);
    if (!isa<BlockArgument>(ref))
      return std::nullopt;
    return d == 0 ? 1 : seq;
  };
  auto unary = [&](Value x, double (*f)(double)) -> std::optional<EvalArray> {
    std::optional<EvalArray> a = evaluate(x);
    if (!a)
      return std::nullopt;
    for (double &e : a->data)
      e = f(e);
    return a;
  };
  auto binary = [&](Value x, Value y, ::rose::BinaryKind kind) {
    // Data-dependent operands fail fast: the second is not looked at.
    std::optional<EvalArray> a = evaluate(x);
    std::optional<EvalArray> b = a ? evaluate(y) : std::nullopt;
    if (!a || !b)
      return std::optional<EvalArray>();
    return broadcastMap({&*a, &*b}, [&](llvm::ArrayRef<double> e) {
      return static_cast<double>(::rose::applyBinary(
          kind, static_cast<float>(e[0]), static_cast<float>(e[1])));
    });
  };
  return llvm::TypeSwitch<Operation *, std::optional<EvalArray>>(op)
      .Case([&](ConstantOp c) { return fromConstant(c); })
      .Case([&](IotaOp i) -> std::optional<EvalArray> {
        // The batch is evaluated as 1: an iota over a dynamic batch dim
        // would make values that depend on the batch index look constant.
        auto refType = cast<RankedTensorType>(i.getRef().getType());
        if (i.getDim() == 0 && refType.isDynamicDim(0))
          return std::nullopt;
        std::optional<int64_t> n = refDim(i.getRef(), i.getDim());
        if (!n || *n > kMaxElements)
          return std::nullopt;
        EvalArray out{{*n}, std::vector<double>(*n)};
        std::iota(out.data.begin(), out.data.end(), 0.0);
        return out;
      })
      .Case([&](FillOp f) -> std::optional<EvalArray> {
        EvalArray out;
        for (int64_t d : f.getDims()) {
          std::optional<int64_t> n =
              d < 0 ? std::optional<int64_t>(-d) : refDim(f.getRef(), d);
          if (!n)
            return std::nullopt;
          out.shape.push_back(*n);
        }
        int64_t n = count(out.shape);
        if (n < 0)
          return std::nullopt;
        out.data.assign(n, f.getValue().convertToDouble());
        return out;
      })
      .Case([&](TriluOp t) -> std::optional<EvalArray> {
        std::optional<EvalArray> a = evaluate(t.getInput());
        if (!a || a->shape.size() < 2)
          return std::nullopt;
        int64_t rows = a->shape[a->shape.size() - 2], cols = a->shape.back();
        for (size_t e = 0; e < a->data.size(); ++e) {
          int64_t i = (e / cols) % rows, j = e % cols;
          bool keep = t.getUpper() ? j >= i + t.getK() : j <= i + t.getK();
          if (!keep)
            a->data[e] = 0.0;
        }
        return a;
      })
      .Case([&](GatherOp g) -> std::optional<EvalArray> {
        std::optional<EvalArray> a = evaluate(g.getInput()),
                                 idx = evaluate(g.getIndices());
        if (!a || !idx)
          return std::nullopt;
        int64_t rank = a->shape.size();
        int64_t axis = g.getAxis() < 0 ? g.getAxis() + rank : g.getAxis();
        int64_t outer = 1, inner = 1, n = a->shape[axis];
        for (int64_t d = 0; d < axis; ++d)
          outer *= a->shape[d];
        for (int64_t d = axis + 1; d < rank; ++d)
          inner *= a->shape[d];
        EvalArray out;
        out.shape.assign(a->shape.begin(), a->shape.begin() + axis);
        out.shape.append(idx->shape.begin(), idx->shape.end());
        out.shape.append(a->shape.begin() + axis + 1, a->shape.end());
        if (count(out.shape) < 0)
          return std::nullopt;
        for (int64_t o = 0; o < outer; ++o)
          for (double ix : idx->data) {
            int64_t k = static_cast<int64_t>(ix);
            if (k < 0 || k >= n)
              return std::nullopt;
            for (int64_t i = 0; i < inner; ++i)
              out.data.push_back(a->data[(o * n + k) * inner + i]);
          }
        return out;
      })
      .Case([&](SliceOp s) -> std::optional<EvalArray> {
        std::optional<EvalArray> a = evaluate(s.getInput());
        if (!a)
          return std::nullopt;
        int64_t rank = a->shape.size();
        int64_t axis = s.getAxis() < 0 ? s.getAxis() + rank : s.getAxis();
        int64_t start = s.getStart(), end = s.getEnd(), n = a->shape[axis];
        if (start < 0 || end > n || start > end)
          return std::nullopt;
        int64_t outer = 1, inner = 1;
        for (int64_t d = 0; d < axis; ++d)
          outer *= a->shape[d];
        for (int64_t d = axis + 1; d < rank; ++d)
          inner *= a->shape[d];
        EvalArray out{a->shape, {}};
        out.shape[axis] = end - start;
        for (int64_t o = 0; o < outer; ++o)
          for (int64_t k = start; k < end; ++k)
            for (int64_t i = 0; i < inner; ++i)
              out.data.push_back(a->data[(o * n + k) * inner + i]);
        return out;
      })
      .Case([&](ReshapeOp r) -> std::optional<EvalArray> {
        std::optional<EvalArray> a = evaluate(r.getInput());
        if (!a)
          return std::nullopt;
        llvm::SmallVector<int64_t> shape;
        int64_t known = 1, infer = -1;
        for (auto [i, d] : llvm::enumerate(r.getShape())) {
          int64_t size = d == 0 && i < a->shape.size() ? a->shape[i] : d;
          if (size == -1)
            infer = i;
          else
            known *= size;
          shape.push_back(size);
        }
        int64_t n = a->data.size();
        if (infer >= 0)
          shape[infer] = known ? n / known : 0;
        if (count(shape) != n)
          return std::nullopt;
        a->shape = shape;
        return a;
      })
      .Case([&](TransposeOp t) -> std::optional<EvalArray> {
        std::optional<EvalArray> a = evaluate(t.getInput());
        if (!a)
          return std::nullopt;
        ArrayRef<int64_t> perm = t.getPermutation();
        size_t rank = perm.size();
        // The input's row-major strides.
        llvm::SmallVector<int64_t> in(rank);
        int64_t stride = 1;
        for (size_t d = rank; d-- > 0;) {
          in[d] = stride;
          stride *= a->shape[d];
        }
        EvalArray out;
        for (int64_t p : perm)
          out.shape.push_back(a->shape[p]);
        out.data.resize(a->data.size());
        for (size_t i = 0; i < out.data.size(); ++i) {
          int64_t rest = i, src = 0;
          for (size_t d = rank; d-- > 0;) {
            src += (rest % out.shape[d]) * in[perm[d]];
            rest /= out.shape[d];
          }
          out.data[i] = a->data[src];
        }
        return out;
      })
      .Case([&](ConcatOp c) -> std::optional<EvalArray> {
        // Along a dynamic axis, where an element lands depends on the
        // sequence length: evaluations at a few lengths would prove nothing.
        auto type = cast<RankedTensorType>(c.getType());
        int64_t axis =
            c.getAxis() < 0 ? c.getAxis() + type.getRank() : c.getAxis();
        if (axis < 0 || axis >= type.getRank() || type.isDynamicDim(axis))
          return std::nullopt;
        llvm::SmallVector<EvalArray> in;
        for (Value x : c.getInputs()) {
          std::optional<EvalArray> a = evaluate(x);
          if (!a)
            return std::nullopt;
          in.push_back(std::move(*a));
        }
        return concat(in, c.getAxis());
      })
      .Case([&](MatMulOp mm) -> std::optional<EvalArray> {
        // A sum over a dynamic dim depends on the sequence length (ones(1,
        // S) @ ones(S, 1) is S): only static contractions are evaluated.
        auto lhsType = cast<RankedTensorType>(mm.getLhs().getType());
        if (lhsType.isDynamicDim(lhsType.getRank() - 1))
          return std::nullopt;
        std::optional<EvalArray> x = evaluate(mm.getLhs());
        std::optional<EvalArray> w = x ? evaluate(mm.getRhs()) : std::nullopt;
        if (!x || !w || mm.getBias())
          return std::nullopt;
        return matmul(*x, *w, mm.getTransposeRhs());
      })
      .Case([&](WhereOp w) -> std::optional<EvalArray> {
        std::optional<EvalArray> c = evaluate(w.getCondition());
        std::optional<EvalArray> a = c ? evaluate(w.getLhs()) : std::nullopt;
        std::optional<EvalArray> b = a ? evaluate(w.getRhs()) : std::nullopt;
        if (!c || !a || !b)
          return std::nullopt;
        return broadcastMap({&*c, &*a, &*b}, [](llvm::ArrayRef<double> e) {
          return e[0] != 0.0 ? e[1] : e[2];
        });
      })
      .Case([&](AddOp o) {
        return binary(o.getLhs(), o.getRhs(), ::rose::BinaryKind::Add);
      })
      .Case([&](SubOp o) {
        return binary(o.getLhs(), o.getRhs(), ::rose::BinaryKind::Sub);
      })
      .Case([&](MulOp o) {
        return binary(o.getLhs(), o.getRhs(), ::rose::BinaryKind::Mul);
      })
      .Case([&](DivOp o) {
        return binary(o.getLhs(), o.getRhs(), ::rose::BinaryKind::Div);
      })
      .Case([&](PowOp o) {
        return binary(o.getLhs(), o.getRhs(), ::rose::BinaryKind::Pow);
      })
      .Case([&](MaxOp o) {
        return binary(o.getLhs(), o.getRhs(), ::rose::BinaryKind::Max);
      })
      .Case([&](MinOp o) {
        return binary(o.getLhs(), o.getRhs(), ::rose::BinaryKind::Min);
      })
      .Case([&](EqualOp o) {
        return binary(o.getLhs(), o.getRhs(), ::rose::BinaryKind::Equal);
      })
      .Case([&](LessOp o) {
        return binary(o.getLhs(), o.getRhs(), ::rose::BinaryKind::Less);
      })
      .Case([&](GreaterOp o) {
        return binary(o.getLhs(), o.getRhs(), ::rose::BinaryKind::Greater);
      })
      .Case([&](NotOp o) {
        return unary(o.getInput(),
                     [](double x) { return x == 0.0 ? 1.0 : 0.0; });
      })
      .Case([&](NegOp o) {
        return unary(o.getInput(), [](double x) { return -x; });
      })
      .Case([&](CastOp o) {
        return unary(o.getInput(), [](double x) { return x; });
      })
      .Case([&](CosOp o) {
        return unary(o.getInput(), [](double x) { return std::cos(x); });
      })
      .Case([&](SinOp o) {
        return unary(o.getInput(), [](double x) { return std::sin(x); });
      })
      .Case([&](SqrtOp o) {
        return unary(o.getInput(), [](double x) { return std::sqrt(x); });
      })
      .Case([&](ReciprocalOp o) {
        return unary(o.getInput(), [](double x) { return 1.0 / x; });
      })
      .Default([](Operation *) { return std::nullopt; });
}

std::optional<double> mlir::rose::constantScalar(Value v) {
  // At a sequence length above 1, anything counting positions varies.
  ShapeEvaluator eval(3);
  std::optional<EvalArray> a = eval.evaluate(v);
  if (!a || a->data.empty())
    return std::nullopt;
  for (double x : a->data)
    if (x != a->data[0])
      return std::nullopt;
  return a->data[0];
}
