//===- OnnxCompute.cpp - ONNX op handlers: layout, matmul, attention ------===//
#include "frontend/OnnxImporterImpl.h"
#include "runtime/CheckedMath.h"

#include <cmath>

using namespace mlir;
using namespace mlir::rose;
using namespace mlir::rose::onnx_import;

/// Reshape spec in rose's ONNX-like form: 0 where the target dim is the
/// input's dim at the same position, static sizes, at most one -1.
llvm::Expected<Value> Importer::reshapeTo(Value input, const SymShape &target) {
  SymShape in = shapeOf(input);
  SmallVector<int64_t> spec;
  int unknown = 0;
  for (auto [i, d] : llvm::enumerate(target)) {
    if (i < in.size() && in[i] == d && !d.isStatic())
      spec.push_back(0);
    else if (d.isStatic())
      spec.push_back(d.size);
    else {
      spec.push_back(-1);
      ++unknown;
    }
  }
  if (unknown > 1)
    return fail("cannot express reshape " + formatSym(in) + " -> " +
                formatSym(target) + " (more than one moved dynamic dim)");
  return b.create<ReshapeOp>(loc, input, spec).getResult();
}

llvm::Error Importer::onReshape() {
  llvm::Expected<Entry *> data = input(0);
  if (!data)
    return data.takeError();
  llvm::Expected<SymShape> spec = shapeInput(1);
  if (!spec)
    return spec.takeError();
  // ONNX semantics: 0 copies the input dim (allowzero = 0), -1 is inferred.
  SymShape in;
  if ((*data)->tensor)
    in = (*data)->shape;
  else if ((*data)->marker)
    in.assign((*data)->marker->shape.begin(), (*data)->marker->shape.end());
  SymShape target = *spec;
  int inferIndex = -1;
  for (size_t i = 0; i < target.size(); ++i) {
    SymDim &d = target[i];
    if (d.isStatic() && d.size == 0 && attrInt("allowzero", 0) == 0) {
      if (i >= in.size())
        return fail("reshape copies dim " + llvm::Twine(i) +
                    " the input lacks");
      d = in[i];
    } else if (d.isStatic() && d.size == -1) {
      inferIndex = static_cast<int>(i);
    }
  }
  if (inferIndex >= 0) {
    // Infer from the static part; the dynamic dims must cancel.
    std::optional<int64_t> inStatic = 1, outStatic = 1;
    SmallVector<int> inSyms, outSyms;
    for (SymDim d : in)
      if (!d.isStatic())
        inSyms.push_back(d.symbol);
      else if (inStatic)
        inStatic = ::rose::checkedMul(*inStatic, d.size);
    for (auto [i, d] : llvm::enumerate(target))
      if (int(i) == inferIndex)
        continue;
      else if (!d.isStatic())
        outSyms.push_back(d.symbol);
      else if (outStatic)
        outStatic = ::rose::checkedMul(*outStatic, d.size);
    if (!inStatic || !outStatic)
      return fail("element count of reshape " + formatSym(in) + " -> " +
                  formatSym(target) + " overflows or has a negative dim");
    llvm::sort(inSyms);
    llvm::sort(outSyms);
    if (inSyms != outSyms || *outStatic == 0 || *inStatic % *outStatic != 0)
      return fail("cannot infer the -1 of reshape " + formatSym(in) + " -> " +
                  formatSym(target));
    target[inferIndex] = SymDim::known(*inStatic / *outStatic);
  }

  Entry &out = output(0);
  std::shared_ptr<Marker> m = (*data)->marker;
  // Merging heads back: the end of an attention pattern.
  if (m && m->kind == Marker::Attention && m->layout == Marker::BSHD &&
      target.size() == 3) {
    // The usual 1 / sqrt(head_dim) (up to float32 rounding) is the op's
    // default; only another scale is recorded.
    int64_t headDim =
        target[2].isStatic() && m->heads > 0 ? target[2].size / m->heads : 0;
    FloatAttr scale;
    if (headDim <= 0 ||
        std::abs(m->c * std::sqrt(double(headDim)) - 1.0) > 1e-6)
      scale = b.getF64FloatAttr(m->c);
    Value attn =
        b.create<AttentionOp>(loc, m->q, m->k, m->v, m->heads, m->flag, scale);
    setTensor(out, attn, shapeOf(m->q));
    return llvm::Error::success();
  }
  llvm::Expected<Value> x = tensor(0);
  if (!x)
    return x.takeError();
  llvm::Expected<Value> r = reshapeTo(*x, target);
  if (!r)
    return r.takeError();
  setTensor(out, *r, target);
  // Splitting the last dim into [heads, head_dim]: q, k or v of attention.
  if (in.size() == 3 && target.size() == 4 && in[0] == target[0] &&
      in[1] == target[1] && target[2].isStatic() && target[3].isStatic() &&
      in[2].isStatic() &&
      ::rose::checkedMul(target[2].size, target[3].size) == in[2].size) {
    auto heads = std::make_shared<Marker>();
    heads->kind = Marker::Heads;
    heads->x = *x;
    heads->heads = target[2].size;
    heads->layout = Marker::BSHD;
    heads->shape.assign(target.begin(), target.end());
    out.marker = heads;
  }
  return llvm::Error::success();
}

/// Moves a per-head view through a transpose; nullptr when it does not apply.
static std::shared_ptr<Marker> transposeHeads(const Marker &m,
                                              llvm::ArrayRef<int64_t> perm) {
  auto is = [&](std::initializer_list<int64_t> p) {
    return perm == llvm::ArrayRef<int64_t>(p);
  };
  // perm comes from the file: an entry outside the rank matches no pattern.
  for (int64_t p : perm)
    if (p < 0 || p >= int64_t(m.shape.size()))
      return nullptr;
  auto next = std::make_shared<Marker>(m);
  SmallVector<SymDim> shape;
  for (int64_t p : perm)
    shape.push_back(m.shape[p]);
  next->shape.assign(shape.begin(), shape.end());
  if (m.kind == Marker::Heads && m.layout == Marker::BSHD && is({0, 2, 1, 3}))
    next->layout = Marker::BHSD;
  else if (m.kind == Marker::Heads && m.layout == Marker::BSHD &&
           is({0, 2, 3, 1}))
    next->layout = Marker::BHDS;
  else if (m.kind == Marker::Heads && m.layout == Marker::BHSD &&
           is({0, 1, 3, 2}))
    next->layout = Marker::BHDS;
  else if (m.kind == Marker::Attention && m.layout == Marker::BHSD &&
           is({0, 2, 1, 3}))
    next->layout = Marker::BSHD;
  else
    return nullptr;
  return next;
}

llvm::Error Importer::onTranspose() {
  llvm::Expected<Entry *> in = input(0);
  if (!in)
    return in.takeError();
  std::optional<std::vector<int64_t>> perm = attrInts("perm");
  Entry &out = output(0);
  if ((*in)->marker && perm && (*in)->marker->shape.size() == perm->size()) {
    if (std::shared_ptr<Marker> next = transposeHeads(*(*in)->marker, *perm)) {
      out.marker = next;
      if (next->kind == Marker::Attention)
        return llvm::Error::success();
    }
  }
  llvm::Expected<Value> x = tensor(0);
  if (!x)
    return x.takeError();
  SymShape shape = shapeOf(*x);
  SmallVector<int64_t> p;
  if (perm)
    p.assign(perm->begin(), perm->end());
  else
    for (int64_t i = shape.size() - 1; i >= 0; --i)
      p.push_back(i);
  if (p.size() != shape.size())
    return fail("perm has " + llvm::Twine(p.size()) + " entries for rank " +
                llvm::Twine(shape.size()));
  SymShape permuted;
  for (int64_t i : p) {
    if (i < 0 || i >= int64_t(shape.size()))
      return fail("perm entry out of range");
    permuted.push_back(shape[i]);
  }
  setTensor(out, b.create<TransposeOp>(loc, *x, p), permuted);
  return llvm::Error::success();
}

/// A MatMul weight that is a transposed copy of another initializer (torch
/// folds `wte.weight.t()` of a tied LM head into one), or the untied LM
/// head, is kept as a [vocab, d] tensor used with transpose_rhs.
llvm::Expected<std::optional<std::pair<Value, bool>>>
Importer::tiedOrHeadWeight(const onnx::TensorProto &init) {
  if (init.dims_size() != 2)
    return std::optional<std::pair<Value, bool>>();
  int64_t rows = init.dims(0), cols = init.dims(1);
  llvm::Expected<TensorBytes> bytes = reader.read(init);
  if (!bytes)
    return fail(llvm::toString(bytes.takeError()));
  std::vector<float> w = toFloats(*bytes);
  for (const auto &kv : initializers) {
    const onnx::TensorProto &other = *kv.second;
    if (&other == &init || other.dims_size() != 2 || other.dims(0) != cols ||
        other.dims(1) != rows || other.data_type() != init.data_type())
      continue;
    llvm::Expected<TensorBytes> ob = reader.read(other);
    if (!ob)
      return fail(llvm::toString(ob.takeError()));
    std::vector<float> o = toFloats(*ob);
    bool equal = true;
    for (int64_t r = 0; r < rows && equal; ++r)
      for (int64_t c = 0; c < cols && equal; ++c)
        equal = w[r * cols + c] == o[c * rows + r];
    if (!equal)
      continue;
    llvm::Expected<Value> p = param(other, other.name(), false);
    if (!p)
      return p.takeError();
    return std::optional<std::pair<Value, bool>>({*p, true});
  }
  // An anonymous weight producing the graph output is the untied LM head.
  if (llvm::StringRef(init.name()).starts_with("onnx::") &&
      node->output(0) == graphOutput) {
    llvm::Expected<Value> p = param(init, "lm_head.weight", true);
    if (!p)
      return p.takeError();
    return std::optional<std::pair<Value, bool>>({*p, true});
  }
  return std::optional<std::pair<Value, bool>>();
}

llvm::Error Importer::onMatMul() {
  llvm::Expected<Entry *> lhs = input(0);
  llvm::Expected<Entry *> rhs = input(1);
  if (!lhs)
    return lhs.takeError();
  if (!rhs)
    return rhs.takeError();
  Entry &out = output(0);
  std::shared_ptr<Marker> ml = (*lhs)->marker, mr = (*rhs)->marker;
  // q k^T: attention scores.
  if (ml && mr && ml->kind == Marker::Heads && mr->kind == Marker::Heads &&
      ml->layout == Marker::BHSD && mr->layout == Marker::BHDS &&
      ml->heads == mr->heads) {
    auto m = std::make_shared<Marker>();
    m->kind = Marker::Scores;
    m->q = ml->x;
    m->k = mr->x;
    m->heads = ml->heads;
    m->c = 1.0;
    m->shape = {ml->shape[0], ml->shape[1], ml->shape[2], mr->shape[3]};
    out.marker = m;
    return llvm::Error::success();
  }
  // softmax(scores) v.
  if (ml && mr && ml->kind == Marker::Probs && mr->kind == Marker::Heads &&
      mr->layout == Marker::BHSD && ml->heads == mr->heads) {
    auto m = std::make_shared<Marker>(*ml);
    m->kind = Marker::Attention;
    m->v = mr->x;
    m->layout = Marker::BHSD;
    m->shape = mr->shape;
    out.marker = m;
    return llvm::Error::success();
  }
  if (ml && (ml->kind == Marker::Scores || ml->kind == Marker::Probs))
    return fail("unrecognised attention pattern: scores are used by a MatMul "
                "other than softmax(scores) @ v");
  llvm::Expected<Value> a = tensor(0);
  if (!a)
    return a.takeError();
  Value w;
  bool transposeRhs = false;
  if ((*rhs)->weight) {
    auto tied = tiedOrHeadWeight(*(*rhs)->weight);
    if (!tied)
      return tied.takeError();
    if (*tied)
      std::tie(w, transposeRhs) = **tied;
  }
  if (!w) {
    llvm::Expected<Value> t = tensor(1);
    if (!t)
      return t.takeError();
    w = *t;
  }
  SymShape ls = shapeOf(*a), rs = shapeOf(w);
  if (ls.size() < 2 || rs.size() < 2)
    return fail("MatMul of rank < 2 operands is not supported");
  if (transposeRhs)
    std::swap(rs[rs.size() - 1], rs[rs.size() - 2]);
  llvm::Expected<SymShape> batch = broadcast(
      SymShape(ls.begin(), ls.end() - 2), SymShape(rs.begin(), rs.end() - 2));
  if (!batch)
    return batch.takeError();
  batch->push_back(ls[ls.size() - 2]);
  batch->push_back(rs.back());
  setTensor(out, b.create<MatMulOp>(loc, *a, w, Value(), transposeRhs), *batch);
  return llvm::Error::success();
}

llvm::Error Importer::onGemm() {
  if (attrFloat("alpha", 1.0) != 1.0 || attrFloat("beta", 1.0) != 1.0 ||
      attrInt("transA", 0) != 0)
    return fail("only Gemm with alpha = beta = 1 and transA = 0 (a linear "
                "layer) is supported");
  llvm::Expected<Value> a = tensor(0);
  llvm::Expected<Value> w = tensor(1);
  if (!a)
    return a.takeError();
  if (!w)
    return w.takeError();
  Value bias;
  if (numInputs() > 2) {
    llvm::Expected<Value> c = tensor(2);
    if (!c)
      return c.takeError();
    bias = *c;
  }
  bool transB = attrInt("transB", 0) != 0;
  auto op = b.create<MatMulOp>(loc, *a, *w, bias, transB);
  SymShape ls = shapeOf(*a), rs = shapeOf(*w);
  setTensor(output(0), op, {ls[0], transB ? rs[0] : rs[1]});
  return llvm::Error::success();
}

llvm::Error Importer::onLayerNorm() {
  for (int i = 1; i < node->output_size(); ++i)
    if (!node->output(i).empty())
      return fail("LayerNormalization's mean/inv_std outputs are not "
                  "supported");
  llvm::Expected<Value> x = tensor(0);
  llvm::Expected<Value> scale = tensor(1);
  if (!x)
    return x.takeError();
  if (!scale)
    return scale.takeError();
  int64_t rank = shapeOf(*x).size();
  int64_t axis = attrInt("axis", -1);
  if (axis != -1 && axis != rank - 1)
    return fail("LayerNormalization over axis " + llvm::Twine(axis) +
                " (not the last) is not supported");
  Value bias;
  if (numInputs() > 2) {
    llvm::Expected<Value> t = tensor(2);
    if (!t)
      return t.takeError();
    bias = *t;
  } else {
    return fail("LayerNormalization without a bias is not supported");
  }
  // ONNX stores epsilon as float; keep that value exactly.
  double eps = static_cast<float>(attrFloat("epsilon", 1e-5f));
  auto op =
      b.create<LayerNormOp>(loc, *x, *scale, bias, b.getF64FloatAttr(eps));
  setTensor(output(0), op, shapeOf(*x));
  return llvm::Error::success();
}

llvm::Error Importer::onSoftmax() {
  llvm::Expected<Entry *> in = input(0);
  if (!in)
    return in.takeError();
  int64_t axis = attrInt("axis", -1);
  std::shared_ptr<Marker> m = (*in)->marker;
  if (m && m->kind == Marker::Scores) {
    if (axis != -1 && axis != 3)
      return fail("attention softmax must run over the key axis (-1)");
    if (!m->flag)
      return fail("unrecognised attention pattern: no causal mask before the "
                  "softmax (rose supports causal self-attention)");
    auto p = std::make_shared<Marker>(*m);
    p->kind = Marker::Probs;
    output(0).marker = p;
    return llvm::Error::success();
  }
  llvm::Expected<Value> x = tensor(0);
  if (!x)
    return x.takeError();
  setTensor(output(0), b.create<SoftmaxOp>(loc, *x, axis), shapeOf(*x));
  return llvm::Error::success();
}

llvm::Error Importer::onSplit() {
  llvm::Expected<Value> x = tensor(0);
  if (!x)
    return x.takeError();
  SymShape shape = shapeOf(*x);
  int64_t axis = attrInt("axis", 0);
  if (axis < 0)
    axis += shape.size();
  if (axis < 0 || axis >= int64_t(shape.size()))
    return fail("split axis out of range");
  SmallVector<int64_t> sizes;
  if (numInputs() > 1) {
    llvm::Expected<Literal> lit = literalInput(1);
    if (!lit)
      return lit.takeError();
    for (double v : lit->values)
      sizes.push_back(toInt64(v));
  } else if (auto attrSizes = attrInts("split")) {
    sizes.assign(attrSizes->begin(), attrSizes->end());
  } else {
    if (!shape[axis].isStatic() || shape[axis].size % node->output_size() != 0)
      return fail("cannot split a dynamic or indivisible dim evenly");
    sizes.assign(node->output_size(), shape[axis].size / node->output_size());
  }
  if (int64_t(sizes.size()) != node->output_size())
    return fail("split has " + llvm::Twine(sizes.size()) + " sizes for " +
                llvm::Twine(node->output_size()) + " outputs");
  auto op = b.create<SplitOp>(loc, *x, axis, sizes);
  for (auto [i, size] : llvm::enumerate(sizes)) {
    SymShape s = shape;
    s[axis] = SymDim::known(size);
    setTensor(output(i), op.getResult(i), s);
  }
  return llvm::Error::success();
}

llvm::Error Importer::onSlice() {
  llvm::Expected<Literal> starts = literalInput(1);
  llvm::Expected<Literal> ends = literalInput(2);
  if (!starts || !ends)
    return fail("Slice needs constant starts and ends");
  std::vector<double> axes, steps;
  if (numInputs() > 3) {
    llvm::Expected<Literal> a = literalInput(3);
    if (!a)
      return a.takeError();
    axes = a->values;
  }
  if (numInputs() > 4) {
    llvm::Expected<Literal> s = literalInput(4);
    if (!s)
      return s.takeError();
    steps = s->values;
  }
  if (starts->values.size() != 1 || ends->values.size() != 1 ||
      axes.size() > 1 || (!steps.empty() && steps != std::vector<double>{1}))
    return fail("only single-axis, unit-step Slice is supported");
  int64_t start = toInt64(starts->values[0]), end = toInt64(ends->values[0]);
  llvm::Expected<Entry *> in = input(0);
  if (!in)
    return in.takeError();
  if ((*in)->shapeVector) {
    const SymShape &v = *(*in)->shapeVector;
    int64_t n = v.size();
    start = std::clamp<int64_t>(start < 0 ? start + n : start, 0, n);
    end = std::clamp<int64_t>(end < 0 ? end + n : end, 0, n);
    output(0).shapeVector =
        SymShape(v.begin() + start, v.begin() + std::max(start, end));
    return llvm::Error::success();
  }
  llvm::Expected<Value> x = tensor(0);
  if (!x)
    return x.takeError();
  SymShape shape = shapeOf(*x);
  int64_t axis = axes.empty() ? 0 : toInt64(axes[0]);
  if (axis < 0)
    axis += shape.size();
  if (axis < 0 || axis >= int64_t(shape.size()) || !shape[axis].isStatic())
    return fail("Slice of a dynamic or out-of-range axis is not supported");
  int64_t n = shape[axis].size;
  start = std::clamp<int64_t>(start < 0 ? start + n : start, 0, n);
  end = std::clamp<int64_t>(end < 0 ? end + n : end, 0, n);
  if (end <= start)
    return fail("empty Slice");
  shape[axis] = SymDim::known(end - start);
  setTensor(output(0), b.create<SliceOp>(loc, *x, axis, start, end), shape);
  return llvm::Error::success();
}

llvm::Error Importer::onExpand() {
  llvm::Expected<Entry *> in = input(0);
  if (!in)
    return in.takeError();
  llvm::Expected<SymShape> target = shapeInput(1);
  if (!target)
    return target.takeError();
  // Expanding to the value's own shape is a no-op torch sometimes emits.
  if ((*in)->tensor && (*in)->shape == *target) {
    output(0) = **in;
    return llvm::Error::success();
  }
  return fail("Expand that changes the shape is not supported");
}
