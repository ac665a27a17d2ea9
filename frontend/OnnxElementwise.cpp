//===- OnnxElementwise.cpp - ONNX op handlers: elementwise and masks ------===//
//
// Each node becomes the matching primitive rose op; constants and shape
// arithmetic fold. ONNX booleans become rose's 0/1 float tensors. Fused
// layers (GELU, attention) are recognised afterwards by --rose-raise.
//
//===----------------------------------------------------------------------===//
#include "frontend/OnnxImporterImpl.h"
#include "runtime/CheckedMath.h"

#include <cmath>

using namespace mlir;
using namespace mlir::rose;
using namespace mlir::rose::onnx_import;

static std::optional<double> applyScalar(llvm::StringRef op, double x, double y,
                                         bool integer) {
  double r;
  if (op == "Add")
    r = x + y;
  else if (op == "Sub")
    r = x - y;
  else if (op == "Mul")
    r = x * y;
  else if (op == "Div")
    r = y == 0.0 ? NAN : x / y;
  else if (op == "Pow")
    r = std::pow(x, y);
  else if (op == "Max")
    r = std::max(x, y);
  else if (op == "Min")
    r = std::min(x, y);
  else if (op == "Equal")
    r = x == y;
  else if (op == "Less")
    r = x < y;
  else if (op == "Greater")
    r = x > y;
  else
    return std::nullopt;
  // ONNX integer Div truncates.
  return integer ? std::trunc(r) : r;
}

static std::optional<Literal> foldLiterals(llvm::StringRef op, const Literal &a,
                                           const Literal &b) {
  if (!a.isScalar() && !b.isScalar() && a.dims != b.dims)
    return std::nullopt;
  Literal out = a.isScalar() ? b : a;
  bool compare = op == "Equal" || op == "Less" || op == "Greater";
  out.isInteger = a.isInteger && b.isInteger && !compare;
  for (size_t i = 0; i < out.values.size(); ++i) {
    std::optional<double> r =
        applyScalar(op, a.values[a.isScalar() ? 0 : i],
                    b.values[b.isScalar() ? 0 : i], out.isInteger);
    if (!r)
      return std::nullopt;
    out.values[i] = *r;
  }
  return out;
}

/// Shape arithmetic: static dims fold; x - x of one dynamic dim is 0 and
/// x + 0, x - 0, x * 1, x / 1 keep x. A dim is never negative, so it never
/// equals a negative constant (torch's expand(-1) tests dims against -1).
static std::optional<SymDim> foldDims(llvm::StringRef op, SymDim x, SymDim y) {
  if (op == "Equal" && !(x.isStatic() && y.isStatic())) {
    if (x == y)
      return SymDim::known(1);
    if ((x.isStatic() && x.size < 0) || (y.isStatic() && y.size < 0))
      return SymDim::known(0);
    return std::nullopt;
  }
  if (x.isStatic() && y.isStatic()) {
    std::optional<double> r =
        applyScalar(op, double(x.size), double(y.size), true);
    if (!r)
      return std::nullopt;
    return SymDim::known(toInt64(*r));
  }
  if (op == "Sub" && x == y)
    return SymDim::known(0);
  if (y.isStatic() && ((y.size == 0 && (op == "Add" || op == "Sub")) ||
                       (y.size == 1 && (op == "Mul" || op == "Div"))))
    return x;
  if (x.isStatic() &&
      ((x.size == 0 && op == "Add") || (x.size == 1 && op == "Mul")))
    return y;
  return std::nullopt;
}

llvm::Error Importer::onBinary() {
  llvm::StringRef op = node->op_type();
  llvm::Expected<Entry *> a = input(0);
  llvm::Expected<Entry *> c = input(1);
  if (!a)
    return a.takeError();
  if (!c)
    return c.takeError();
  Entry &lhs = **a, &rhs = **c;
  Entry &out = output(0);
  bool compare = op == "Equal" || op == "Less" || op == "Greater";

  // Constant folding: literals, and shape arithmetic.
  if (lhs.literal && rhs.literal && !lhs.shapeVector && !rhs.shapeVector) {
    if (std::optional<Literal> f =
            foldLiterals(op, *lhs.literal, *rhs.literal)) {
      out.literal = *f;
      out.boolean = compare;
      return llvm::Error::success();
    }
  }
  if (lhs.shapeVector || rhs.shapeVector) {
    llvm::Expected<SymShape> x = shapeInput(0);
    llvm::Expected<SymShape> y = shapeInput(1);
    if (!x || !y)
      return fail("shape arithmetic with a non-constant operand");
    if (x->size() != y->size() && x->size() != 1 && y->size() != 1)
      return fail("shape arithmetic on vectors of different lengths");
    SymShape v;
    for (size_t i = 0, n = std::max(x->size(), y->size()); i < n; ++i) {
      SymDim dx = (*x)[x->size() == 1 ? 0 : i],
             dy = (*y)[y->size() == 1 ? 0 : i];
      std::optional<SymDim> d = foldDims(op, dx, dy);
      if (!d)
        return fail("shape arithmetic " + formatSym({dx}) + " " + op + " " +
                    formatSym({dy}) + " on a dynamic dim is not supported");
      v.push_back(*d);
    }
    out.shapeVector = v;
    out.shapeScalar = lhs.shapeScalar && rhs.shapeScalar;
    out.boolean = compare;
    return llvm::Error::success();
  }

  llvm::Expected<Value> x = tensor(0);
  if (!x)
    return x.takeError();
  llvm::Expected<Value> y = tensor(1);
  if (!y)
    return y.takeError();
  llvm::Expected<SymShape> shape = broadcast(shapeOf(*x), shapeOf(*y));
  if (!shape)
    return shape.takeError();
  Value r;
  if (op == "Add")
    r = b.create<AddOp>(loc, *x, *y);
  else if (op == "Sub")
    r = b.create<SubOp>(loc, *x, *y);
  else if (op == "Mul")
    r = b.create<MulOp>(loc, *x, *y);
  else if (op == "Div")
    r = b.create<DivOp>(loc, *x, *y);
  else if (op == "Pow")
    r = b.create<PowOp>(loc, *x, *y);
  else if (op == "Max")
    r = b.create<MaxOp>(loc, *x, *y);
  else if (op == "Min")
    r = b.create<MinOp>(loc, *x, *y);
  else if (op == "Equal")
    r = b.create<EqualOp>(loc, *x, *y);
  else if (op == "Less")
    r = b.create<LessOp>(loc, *x, *y);
  else
    r = b.create<GreaterOp>(loc, *x, *y);
  setTensor(out, r, *shape);
  out.boolean = compare;
  return llvm::Error::success();
}

llvm::Error Importer::onUnary() {
  llvm::StringRef op = node->op_type();
  llvm::Expected<Entry *> in = input(0);
  if (!in)
    return in.takeError();
  if ((*in)->literal && !(*in)->shapeVector && op == "Sqrt") {
    Literal lit = *(*in)->literal;
    for (double &v : lit.values)
      v = std::sqrt(v);
    lit.isInteger = false;
    output(0).literal = lit;
    return llvm::Error::success();
  }
  llvm::Expected<Value> x = tensor(0);
  if (!x)
    return x.takeError();
  Value r;
  if (op == "Tanh")
    r = b.create<TanhOp>(loc, *x);
  else if (op == "Erf")
    r = b.create<ErfOp>(loc, *x);
  else if (op == "Sqrt")
    r = b.create<SqrtOp>(loc, *x);
  else if (op == "Exp")
    r = b.create<ExpOp>(loc, *x);
  else if (op == "Neg")
    r = b.create<NegOp>(loc, *x);
  else if (op == "Reciprocal")
    r = b.create<ReciprocalOp>(loc, *x);
  else if (op == "Sigmoid")
    r = b.create<SigmoidOp>(loc, *x);
  else if (op == "Relu")
    r = b.create<ReluOp>(loc, *x);
  else if (op == "Cos")
    r = b.create<CosOp>(loc, *x);
  else if (op == "Sin")
    r = b.create<SinOp>(loc, *x);
  else
    r = b.create<NotOp>(loc, *x);
  setTensor(output(0), r, shapeOf(*x));
  output(0).boolean = op == "Not";
  return llvm::Error::success();
}

llvm::Error Importer::onReduce() {
  llvm::Expected<Value> x = tensor(0);
  if (!x)
    return x.takeError();
  SymShape shape = shapeOf(*x);
  std::optional<std::vector<int64_t>> axes = attrInts("axes");
  if (!axes && numInputs() > 1) { // opset 18: axes as an input
    llvm::Expected<Literal> lit = literalInput(1);
    if (!lit)
      return lit.takeError();
    axes.emplace();
    for (double v : lit->values)
      axes->push_back(toInt64(v));
  }
  if (!axes || axes->size() != 1)
    return fail("only a reduction over one axis is supported");
  int64_t rank = shape.size(),
          axis = (*axes)[0] < 0 ? (*axes)[0] + rank : (*axes)[0];
  if (axis < 0 || axis >= rank)
    return fail("reduction axis out of range");
  llvm::StringRef op = node->op_type();
  ReduceKind kind = op == "ReduceSum"    ? ReduceKind::Sum
                    : op == "ReduceMean" ? ReduceKind::Mean
                                         : ReduceKind::Max;
  Value r = b.create<ReduceOp>(loc, *x, kind, axis);
  shape[axis] = SymDim::known(1);
  if (attrInt("keepdims", 1) == 0) {
    shape.erase(shape.begin() + axis);
    llvm::Expected<Value> s = reshapeTo(r, shape);
    if (!s)
      return s.takeError();
    r = *s;
  }
  setTensor(output(0), r, shape);
  return llvm::Error::success();
}

Value Importer::fillOf(const SymShape &shape, double value) {
  SmallVector<int64_t> dims, type;
  SymShape ids = shapeOf(inputIds);
  for (SymDim d : shape) {
    if (d.isStatic()) {
      dims.push_back(-d.size);
      type.push_back(d.size);
      continue;
    }
    for (auto [i, s] : llvm::enumerate(ids))
      if (s == d) {
        dims.push_back(i);
        break;
      }
    type.push_back(ShapedType::kDynamic);
  }
  return b.create<FillOp>(loc, RankedTensorType::get(type, b.getF32Type()),
                          inputIds, b.getDenseI64ArrayAttr(dims),
                          b.getF64FloatAttr(value));
}

llvm::Error Importer::onConstantOfShape() {
  llvm::Expected<SymShape> shape = shapeInput(0);
  if (!shape)
    return shape.takeError();
  double value = 0.0;
  bool boolean = false;
  if (const onnx::AttributeProto *a = attr("value")) {
    llvm::Expected<Literal> lit = reader.literal(a->t());
    if (!lit)
      return fail(llvm::toString(lit.takeError()));
    if (!lit->isScalar())
      return fail("value must hold one element");
    value = lit->values[0];
    boolean = a->t().data_type() == onnx::TensorProto::BOOL;
  }
  Entry &out = output(0);
  if (llvm::all_of(*shape, [](SymDim d) { return d.isStatic(); })) {
    Literal lit;
    for (SymDim d : *shape)
      lit.dims.push_back(d.size);
    std::optional<int64_t> n = 1;
    for (int64_t d : lit.dims)
      if (!(n = ::rose::checkedMul(*n, d)) || *n > (int64_t(1) << 24))
        return fail("constant of shape " + formatSym(*shape) + " is too big");
    lit.values.assign(*n, value);
    out.literal = lit;
    out.boolean = boolean;
    return llvm::Error::success();
  }
  for (SymDim d : *shape)
    if (d.isStatic() && d.size <= 0)
      return fail("constant of shape " + formatSym(*shape) +
                  " has an empty dim");
  setTensor(out, fillOf(*shape, value), *shape);
  out.boolean = boolean;
  return llvm::Error::success();
}

llvm::Error Importer::onTrilu() {
  llvm::Expected<Value> x = tensor(0);
  if (!x)
    return x.takeError();
  int64_t k = 0;
  if (numInputs() > 1) {
    llvm::Expected<std::optional<double>> kv = scalarInput(1);
    if (!kv)
      return kv.takeError();
    if (!*kv)
      return fail("Trilu's k must be a constant");
    k = toInt64(**kv);
  }
  if (shapeOf(*x).size() < 2)
    return fail("Trilu needs rank >= 2");
  Value r = b.create<TriluOp>(loc, *x, k, attrInt("upper", 1) != 0);
  setTensor(output(0), r, shapeOf(*x));
  output(0).boolean = (*input(0))->boolean;
  return llvm::Error::success();
}

llvm::Error Importer::onWhere() {
  llvm::Expected<Entry *> cond = input(0);
  if (!cond)
    return cond.takeError();
  if ((*cond)->shapeVector) {
    // Shape arithmetic (torch's expand(-1): where(shape == -1, 1, shape)):
    // a condition known per element selects dims.
    llvm::Expected<SymShape> c = shapeInput(0), x = shapeInput(1),
                             y = shapeInput(2);
    if (!c || !x || !y)
      return fail("shape arithmetic with a non-constant operand");
    size_t n = std::max({c->size(), x->size(), y->size()});
    SymShape v;
    for (size_t i = 0; i < n; ++i) {
      auto at = [&](const SymShape &s) { return s[s.size() == 1 ? 0 : i]; };
      if ((c->size() != n && c->size() != 1) ||
          (x->size() != n && x->size() != 1) ||
          (y->size() != n && y->size() != 1))
        return fail("shape arithmetic on vectors of different lengths");
      if (!at(*c).isStatic())
        return fail("a Where on shapes needs a condition known at import");
      v.push_back(at(*c).size ? at(*x) : at(*y));
    }
    Entry &out = output(0);
    out.shapeVector = v;
    out.shapeScalar = (*cond)->shapeScalar && c->size() == 1 &&
                      x->size() == 1 && y->size() == 1;
    return llvm::Error::success();
  }
  llvm::Expected<Value> c = tensor(0);
  llvm::Expected<Value> x = tensor(1);
  llvm::Expected<Value> y = tensor(2);
  if (!c)
    return c.takeError();
  if (!x)
    return x.takeError();
  if (!y)
    return y.takeError();
  llvm::Expected<SymShape> values = broadcast(shapeOf(*x), shapeOf(*y));
  if (!values)
    return values.takeError();
  llvm::Expected<SymShape> shape = broadcast(shapeOf(*c), *values);
  if (!shape)
    return shape.takeError();
  setTensor(output(0), b.create<WhereOp>(loc, *c, *x, *y), *shape);
  return llvm::Error::success();
}
