//===- OnnxPatterns.cpp - ONNX handlers: arithmetic, GELU, masks ----------===//
#include "frontend/OnnxImporterImpl.h"

#include <cmath>

using namespace mlir;
using namespace mlir::rose;
using namespace mlir::rose::onnx_import;

/// Constants in exported GELU formulas are float32-rounded.
static bool near(double a, double b) {
  return std::abs(a - b) <= 1e-6 * std::max(1.0, std::abs(b));
}

static std::shared_ptr<Marker> makeMarker(Marker::Kind kind, Value x,
                                          double c = 1.0) {
  auto m = std::make_shared<Marker>();
  m->kind = kind;
  m->x = x;
  m->c = c;
  return m;
}

static bool isMarker(const Entry &e, Marker::Kind kind) {
  return e.marker && e.marker->kind == kind;
}

/// Folds elementwise arithmetic on literals (scalars broadcast).
static std::optional<Literal> foldLiterals(const std::string &op,
                                           const Literal &a, const Literal &b) {
  if (!a.isScalar() && !b.isScalar() && a.dims != b.dims)
    return std::nullopt;
  Literal out = a.isScalar() ? b : a;
  out.isInteger = a.isInteger && b.isInteger;
  for (size_t i = 0; i < out.values.size(); ++i) {
    double x = a.values[a.isScalar() ? 0 : i];
    double y = b.values[b.isScalar() ? 0 : i];
    double r = op == "Add"   ? x + y
               : op == "Sub" ? x - y
               : op == "Mul" ? x * y
               : y == 0.0    ? NAN
                             : x / y;
    // ONNX integer Div truncates.
    out.values[i] = out.isInteger ? std::trunc(r) : r;
  }
  return out;
}

llvm::Expected<bool> Importer::binaryPattern(const std::string &op, Entry &a,
                                             Entry &b, std::optional<double> ca,
                                             std::optional<double> cb) {
  Entry &out = output(0);
  auto same = [](const Entry &e, Value x) { return e.tensor && e.tensor == x; };
  // Attention scores scaled by a constant.
  if (isMarker(a, Marker::Scores) && cb && (op == "Div" || op == "Mul")) {
    auto m = std::make_shared<Marker>(*a.marker);
    m->c = op == "Div" ? m->c / *cb : m->c * *cb;
    out.marker = m;
    return true;
  }
  if (op == "Mul") {
    // Normalize operand order: marker or tensor on the left, constant right.
    Entry *l = &a, *r = &b;
    std::optional<double> c = cb;
    if (ca && !cb) {
      std::swap(l, r);
      c = ca;
    }
    if (isMarker(*l, Marker::Cube) && c) {
      out.marker = makeMarker(Marker::ScaledCube, l->marker->x, *c);
      return true;
    }
    if (isMarker(*l, Marker::TanhInner) && !l->marker->inner && c &&
        near(*c, std::sqrt(2.0 / M_PI))) {
      out.marker = std::make_shared<Marker>(*l->marker);
      out.marker->inner = true;
      return true;
    }
    if (isMarker(*l, Marker::GeluTerm) && c) {
      auto m = std::make_shared<Marker>(*l->marker);
      m->c *= *c;
      if (llvm::Error e = completeGelu(out, *m))
        return std::move(e);
      return true;
    }
    // x * (1 + f(x)), possibly with x already scaled.
    for (auto [p, q] : {std::pair(&a, &b), std::pair(&b, &a)}) {
      if (!isMarker(*q, Marker::OnePlus))
        continue;
      Value x = q->marker->x;
      double coef = 0.0;
      if (same(*p, x))
        coef = 1.0;
      else if (isMarker(*p, Marker::ScaledX) && p->marker->x == x)
        coef = p->marker->c;
      else
        continue;
      Marker term = *makeMarker(Marker::GeluTerm, x, coef);
      term.flag = q->marker->flag;
      if (llvm::Error e = completeGelu(out, term))
        return std::move(e);
      return true;
    }
    if (l->tensor && c)
      out.marker = makeMarker(Marker::ScaledX, l->tensor, *c);
    return false;
  }
  if (op == "Add") {
    for (auto [p, q, cq] : {std::tuple(&a, &b, cb), std::tuple(&b, &a, ca)}) {
      if (isMarker(*q, Marker::ScaledCube) && same(*p, q->marker->x) &&
          near(q->marker->c, 0.044715)) {
        out.marker = makeMarker(Marker::TanhInner, q->marker->x);
        return true;
      }
      if ((isMarker(*p, Marker::TanhOf) || isMarker(*p, Marker::ErfOf)) && cq &&
          *cq == 1.0) {
        out.marker = makeMarker(Marker::OnePlus, p->marker->x);
        out.marker->flag = isMarker(*p, Marker::TanhOf);
        return true;
      }
    }
    return false;
  }
  if (op == "Div" && cb && near(*cb, std::sqrt(2.0)) && a.tensor) {
    out.marker = makeMarker(Marker::ErfArg, a.tensor);
    return false; // the division itself is also emitted
  }
  return false;
}

llvm::Error Importer::completeGelu(Entry &out, const Marker &term) {
  if (!near(term.c, 0.5)) {
    out.marker = std::make_shared<Marker>(term);
    return llvm::Error::success();
  }
  Value gelu = b.create<GeluOp>(loc, term.x,
                                term.flag ? GeluApproximation::Tanh
                                          : GeluApproximation::None);
  setTensor(out, gelu, shapeOf(term.x));
  return llvm::Error::success();
}

llvm::Error Importer::onBinary() {
  const std::string &op = node->op_type();
  llvm::Expected<Entry *> a = input(0);
  llvm::Expected<Entry *> c = input(1);
  if (!a)
    return a.takeError();
  if (!c)
    return c.takeError();
  Entry &lhs = **a, &rhs = **c;
  Entry &out = output(0);

  // Constant folding: literals, and shape arithmetic on static dims.
  if (lhs.literal && rhs.literal && !lhs.shapeVector && !rhs.shapeVector) {
    if (std::optional<Literal> f =
            foldLiterals(op, *lhs.literal, *rhs.literal)) {
      out.literal = *f;
      return llvm::Error::success();
    }
  }
  if (lhs.shapeVector || rhs.shapeVector) {
    llvm::Expected<SymShape> x = shapeInput(0);
    llvm::Expected<SymShape> y = shapeInput(1);
    if (!x || !y)
      return fail("shape arithmetic with a non-constant operand");
    Literal la, lb;
    la.isInteger = lb.isInteger = true;
    for (SymDim d : *x) {
      if (!d.isStatic())
        return fail("shape arithmetic on the dynamic dim '" +
                    symbolNames[d.symbol] + "' is not supported");
      la.values.push_back(double(d.size));
    }
    for (SymDim d : *y) {
      if (!d.isStatic())
        return fail("shape arithmetic on the dynamic dim '" +
                    symbolNames[d.symbol] + "' is not supported");
      lb.values.push_back(double(d.size));
    }
    la.dims = {int64_t(la.values.size())};
    lb.dims = {int64_t(lb.values.size())};
    std::optional<Literal> f = foldLiterals(op, la, lb);
    if (!f)
      return fail("shape arithmetic on vectors of different lengths");
    SymShape v;
    for (double d : f->values)
      v.push_back(SymDim::known(toInt64(d)));
    out.shapeVector = v;
    out.shapeScalar = lhs.shapeScalar || rhs.shapeScalar;
    return llvm::Error::success();
  }

  auto scalar = [](const Entry &e) -> std::optional<double> {
    if (e.literal && e.literal->isScalar())
      return e.literal->values[0];
    return std::nullopt;
  };
  llvm::Expected<bool> consumed =
      binaryPattern(op, lhs, rhs, scalar(lhs), scalar(rhs));
  if (!consumed)
    return consumed.takeError();
  if (*consumed)
    return llvm::Error::success();

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
  else
    r = b.create<DivOp>(loc, *x, *y);
  setTensor(out, r, *shape);
  return llvm::Error::success();
}

llvm::Error Importer::onPow() {
  llvm::Expected<std::optional<double>> e = scalarInput(1);
  if (!e)
    return e.takeError();
  llvm::Expected<Value> x = tensor(0);
  if (!x)
    return x.takeError();
  if (*e != 3.0)
    return fail("Pow is supported only as the x^3 of a tanh GELU");
  Entry &out = output(0);
  out.marker = makeMarker(Marker::Cube, *x);
  // shapeOf returns by value: take begin and end of one copy.
  SymShape shape = shapeOf(*x);
  out.marker->shape.assign(shape.begin(), shape.end());
  return llvm::Error::success();
}

llvm::Error Importer::onTanh() {
  llvm::Expected<Entry *> in = input(0);
  if (!in)
    return in.takeError();
  if (!isMarker(**in, Marker::TanhInner) || !(*in)->marker->inner)
    return fail("Tanh is supported only inside the tanh GELU formula "
                "0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))");
  output(0).marker = makeMarker(Marker::TanhOf, (*in)->marker->x);
  return llvm::Error::success();
}

llvm::Error Importer::onErf() {
  llvm::Expected<Entry *> in = input(0);
  if (!in)
    return in.takeError();
  if (!isMarker(**in, Marker::ErfArg))
    return fail("Erf is supported only inside the exact GELU formula "
                "0.5 x (1 + erf(x / sqrt(2)))");
  output(0).marker = makeMarker(Marker::ErfOf, (*in)->marker->x);
  return llvm::Error::success();
}

llvm::Error Importer::onSqrt() {
  llvm::Expected<Entry *> in = input(0);
  if (!in)
    return in.takeError();
  if (!(*in)->literal || (*in)->literal->isInteger)
    return fail("Sqrt is supported only on float constants");
  Literal lit = *(*in)->literal;
  for (double &v : lit.values)
    v = std::sqrt(v);
  output(0).literal = lit;
  return llvm::Error::success();
}

llvm::Error Importer::onConstantOfShape() {
  llvm::Expected<SymShape> shape = shapeInput(0);
  if (!shape)
    return shape.takeError();
  double value = 0.0;
  if (const onnx::AttributeProto *a = attr("value")) {
    llvm::Expected<Literal> lit = reader.literal(a->t());
    if (!lit)
      return fail(llvm::toString(lit.takeError()));
    if (!lit->isScalar())
      return fail("ConstantOfShape value must be a scalar");
    value = lit->values[0];
  }
  auto m = makeMarker(Marker::Filled, Value(), value);
  m->shape.assign(shape->begin(), shape->end());
  output(0).marker = m;
  return llvm::Error::success();
}

llvm::Error Importer::onTrilu() {
  llvm::Expected<Entry *> in = input(0);
  if (!in)
    return in.takeError();
  int64_t k = 0;
  if (numInputs() > 1) {
    llvm::Expected<std::optional<double>> kv = scalarInput(1);
    if (!kv || !*kv)
      return fail("Trilu's k must be a constant scalar");
    k = toInt64(**kv);
  }
  bool upper = attrInt("upper", 1) != 0;
  const std::shared_ptr<Marker> &m = (*in)->marker;
  if (!m || m->kind != Marker::Filled || m->c == 0.0 || m->shape.size() != 2 ||
      m->shape[0] != m->shape[1])
    return fail("Trilu is supported only on an all-true square (a causal "
                "mask)");
  // triu(ones, 1) marks j > i; tril(ones, 0) marks j <= i. Both describe the
  // causal mask; other diagonals do not.
  if ((upper && k == 1) || (!upper && k == 0)) {
    auto mask = makeMarker(Marker::CausalMask, Value());
    mask->flag = upper;
    mask->shape = m->shape;
    output(0).marker = mask;
    return llvm::Error::success();
  }
  return fail("the attention mask is not causal (Trilu upper = " +
              llvm::Twine(upper) + ", k = " + llvm::Twine(k) + ")");
}

llvm::Error Importer::onNot() {
  llvm::Expected<Entry *> in = input(0);
  if (!in)
    return in.takeError();
  if (!isMarker(**in, Marker::CausalMask))
    return fail("Not is supported only on a causal mask");
  auto m = std::make_shared<Marker>(*(*in)->marker);
  m->flag = !m->flag;
  output(0).marker = m;
  return llvm::Error::success();
}

llvm::Error Importer::onWhere() {
  llvm::Expected<Entry *> cond = input(0);
  llvm::Expected<Entry *> x = input(1);
  llvm::Expected<Entry *> y = input(2);
  if (!cond || !x || !y)
    return fail("Where needs three inputs");
  if (!isMarker(**cond, Marker::CausalMask))
    return fail("Where is supported only to apply a causal attention mask");
  bool marksMasked = (*cond)->marker->flag; // true entries get the fill value
  Entry *scores = marksMasked ? *y : *x;
  Entry *fill = marksMasked ? *x : *y;
  bool isFill = fill->literal && fill->literal->isScalar() &&
                fill->literal->values[0] <= -1e4;
  if (!isMarker(*scores, Marker::Scores) || !isFill)
    return fail("unrecognised attention mask: expected Where(mask, -inf, "
                "scores) or Where(keep, scores, -inf)");
  auto m = std::make_shared<Marker>(*scores->marker);
  m->flag = true;
  output(0).marker = m;
  return llvm::Error::success();
}
