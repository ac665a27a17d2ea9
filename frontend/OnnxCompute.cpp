//===- OnnxCompute.cpp - ONNX op handlers: layout, matmul, norms ---------===//
#include "frontend/OnnxImporterImpl.h"
#include "runtime/CheckedMath.h"

#include <algorithm>
#include <cmath>
#include <iterator>

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
  if ((*data)->shapeVector && !(*data)->shapeScalar) {
    // A 1-D shape vector viewed as 1-D again (torch's flatten of a size).
    int64_t n = (*data)->shapeVector->size();
    if (spec->size() != 1 || !(*spec)[0].isStatic() ||
        ((*spec)[0].size != -1 && (*spec)[0].size != n))
      return fail("reshaping shape arithmetic [" + llvm::Twine(n) + "] to " +
                  formatSym(*spec) + " is not supported");
    output(0) = **data;
    return llvm::Error::success();
  }
  if ((*data)->merged) { // the reshape back of a flattened view
    SymShape real = shapeOf((*data)->tensor);
    if (*spec != real &&
        !(spec->size() == real.size() &&
          llvm::all_of(
              *spec, [](SymDim d) { return !d.isStatic() || d.size != -1; }) &&
          SymShape(spec->begin() + 1, spec->end()) ==
              SymShape(real.begin() + 1, real.end())))
      return fail("a flattened view " + formatSym((*data)->shape) +
                  " may only be reshaped back to " + formatSym(real));
    Entry &out = output(0);
    out = **data;
    out.merged = false;
    out.shape = real;
    return llvm::Error::success();
  }
  llvm::Expected<Value> x = tensor(0);
  if (!x)
    return x.takeError();
  SymShape in = shapeOf(*x);
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
    // What the input has beyond the output: one dynamic dim (view(-1, S)
    // of [B, S] is B) or a static size.
    SmallVector<int> extra;
    std::set_difference(inSyms.begin(), inSyms.end(), outSyms.begin(),
                        outSyms.end(), std::back_inserter(extra));
    bool covered = std::includes(inSyms.begin(), inSyms.end(), outSyms.begin(),
                                 outSyms.end());
    if (covered && extra.size() == 1 && *inStatic == *outStatic)
      target[inferIndex] = SymDim::unknown(extra[0]);
    else if (inSyms == outSyms && *outStatic != 0 &&
             *inStatic % *outStatic == 0)
      target[inferIndex] = SymDim::known(*inStatic / *outStatic);
    else if (inferIndex == 0 && target.size() >= 2 &&
             target.size() < in.size() &&
             SymShape(target.begin() + 1, target.end()) ==
                 SymShape(in.end() - (target.size() - 1), in.end())) {
      // Leading dims flattened into one: a view (Entry::merged).
      Entry &out = output(0);
      out = **data;
      target[0] = SymDim::merged();
      out.shape = target;
      out.merged = true;
      return llvm::Error::success();
    } else
      return fail("cannot infer the -1 of reshape " + formatSym(in) + " -> " +
                  formatSym(target));
  }
  if (target == in) { // torch's view to the same shape
    output(0) = **data;
    return llvm::Error::success();
  }
  return reshapeEntry(**data, *x, target);
}

llvm::Error Importer::onTranspose() {
  llvm::Expected<Entry *> in = input(0);
  if (!in)
    return in.takeError();
  std::optional<std::vector<int64_t>> perm = attrInts("perm");
  Entry &out = output(0);
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

/// An anonymous (`onnx::...`) weight whose MatMul produces the logits is
/// the untied LM head: named `lm_head.weight` and kept [vocab, d], as
/// checkpoints store it (used with transpose_rhs). Naming only: a tied head
/// that torch exported as a transposed copy of the embedding stays a copy.
llvm::Expected<std::optional<Value>>
Importer::headWeight(const onnx::TensorProto &init) {
  if (init.dims_size() != 2 ||
      !llvm::StringRef(init.name()).starts_with("onnx::") ||
      node->output(0) != graphOutput)
    return std::optional<Value>();
  llvm::Expected<Value> p = param(init, "lm_head.weight", true);
  if (!p)
    return p.takeError();
  return std::optional<Value>(*p);
}

llvm::Error Importer::onMatMul() {
  llvm::Expected<Entry *> lhs = input(0);
  llvm::Expected<Entry *> rhs = input(1);
  if (!lhs)
    return lhs.takeError();
  if (!rhs)
    return rhs.takeError();
  Entry &out = output(0);
  llvm::Expected<Value> a = tensor(0);
  if (!a)
    return a.takeError();
  Value w;
  bool transposeRhs = false;
  if ((*rhs)->weight) {
    auto head = headWeight(*(*rhs)->weight);
    if (!head)
      return head.takeError();
    if (*head) {
      w = **head;
      transposeRhs = true;
    }
  }
  if (!w && (*rhs)->weight &&
      llvm::StringRef((*rhs)->weight->name()).starts_with("onnx::")) {
    // torch names a Linear's exported (transposed) weight onnx::MatMul_N;
    // the node's path names the layer: /h.0/mlp/c_fc/MatMul ->
    // h.0.mlp.c_fc.weight (what comm reports and plans read).
    llvm::StringRef path = llvm::StringRef(node->name()).ltrim('/');
    size_t slash = path.rfind('/');
    if (slash != llvm::StringRef::npos && slash > 0) {
      std::string name = path.take_front(slash).str();
      std::replace(name.begin(), name.end(), '/', '.');
      llvm::Expected<Value> p = param(*(*rhs)->weight, name + ".weight", false);
      if (!p)
        return p.takeError();
      w = *p;
    }
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
  // A flattened view (Conv1D's x.view(-1, d)) multiplies unflattened:
  // rose's matmul applies a 2-D weight to every row of any rank.
  llvm::Expected<Entry *> in = input(0);
  if (!in)
    return in.takeError();
  bool merged = (*in)->merged;
  llvm::Expected<Value> a =
      merged ? llvm::Expected<Value>((*in)->tensor) : tensor(0);
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
    if (shapeOf(bias).size() != 1)
      return fail("only a 1-D Gemm bias is supported");
  }
  bool transB = attrInt("transB", 0) != 0;
  auto op = b.create<MatMulOp>(loc, *a, *w, bias, transB);
  SymShape ls = shapeOf(*a), rs = shapeOf(*w);
  SymDim n = transB ? rs[0] : rs[1];
  SymShape real(ls.begin(), ls.end() - 1);
  real.push_back(n);
  Entry &out = output(0);
  setTensor(out, op, real);
  if (merged) {
    out.shape = {SymDim::merged(), n};
    out.merged = true;
  }
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
  llvm::Expected<SymShape> starts = shapeInput(1);
  llvm::Expected<SymShape> ends = shapeInput(2);
  if (!starts)
    return starts.takeError();
  if (!ends)
    return ends.takeError();
  std::vector<double> axes, steps;
  if (numInputs() > 3) {
    llvm::Expected<Literal> a = literalInput(3);
    if (!a)
      return a.takeError();
    axes = a->values;
  }
  if (numInputs() > 4) {
    llvm::Expected<Literal> st = literalInput(4);
    if (!st)
      return st.takeError();
    steps = st->values;
  }
  if (starts->size() != 1 || ends->size() != 1 || axes.size() > 1 ||
      (!steps.empty() && steps != std::vector<double>{1}))
    return fail("only single-axis, unit-step Slice is supported");
  SymDim startDim = (*starts)[0], endDim = (*ends)[0];
  llvm::Expected<Entry *> in = input(0);
  if (!in)
    return in.takeError();
  if ((*in)->shapeVector) {
    if (!startDim.isStatic() || !endDim.isStatic())
      return fail("slicing a shape vector at a dynamic position");
    const SymShape &v = *(*in)->shapeVector;
    int64_t n = v.size();
    int64_t start = std::clamp<int64_t>(
        startDim.size < 0 ? startDim.size + n : startDim.size, 0, n);
    int64_t end = std::clamp<int64_t>(
        endDim.size < 0 ? endDim.size + n : endDim.size, 0, n);
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
  if (axis < 0 || axis >= int64_t(shape.size()))
    return fail("Slice axis out of range");
  Entry &out = output(0);
  out.boolean = (*in)->boolean;
  if (!endDim.isStatic() && startDim == SymDim::known(0) &&
      endDim == shape[axis]) {
    output(0) = **in; // [0, S) of an axis of size S (HF's mask[..., :S])
    return llvm::Error::success();
  }
  if (!endDim.isStatic()) {
    // [0, S) of a longer axis (a registered mask buffer cut to the sequence):
    // the entries at 0 .. S-1, which the run checks lie inside the axis.
    if (!startDim.isStatic() || startDim.size != 0 || !shape[axis].isStatic())
      return fail("a Slice to a dynamic end must start at 0 of a static axis");
    llvm::Expected<Value> iota = iotaOf(endDim);
    if (!iota)
      return iota.takeError();
    shape[axis] = endDim;
    setTensor(out, b.create<GatherOp>(loc, *x, *iota, axis), shape);
    return llvm::Error::success();
  }
  if (!startDim.isStatic())
    return fail("a Slice from a dynamic start is not supported");
  if (!shape[axis].isStatic()) {
    if (startDim.size == 0 &&
        endDim.size >= std::numeric_limits<int32_t>::max()) {
      output(0) = **in; // [0, end of a dynamic axis)
      return llvm::Error::success();
    }
    return fail("Slice of a dynamic axis is not supported");
  }
  int64_t n = shape[axis].size;
  int64_t start = std::clamp<int64_t>(
      startDim.size < 0 ? startDim.size + n : startDim.size, 0, n);
  int64_t end = std::clamp<int64_t>(
      endDim.size < 0 ? endDim.size + n : endDim.size, 0, n);
  if (end <= start)
    return fail("empty Slice");
  if (start == 0 && end == n) {
    output(0) = **in;
    return llvm::Error::success();
  }
  shape[axis] = SymDim::known(end - start);
  setTensor(out, b.create<SliceOp>(loc, *x, axis, start, end), shape);
  return llvm::Error::success();
}

llvm::Error Importer::onExpand() {
  llvm::Expected<Entry *> in = input(0);
  if (!in)
    return in.takeError();
  llvm::Expected<SymShape> target = shapeInput(1);
  if (!target)
    return target.takeError();
  llvm::Expected<Value> x = tensor(0);
  if (!x)
    return x.takeError();
  llvm::Expected<SymShape> shape = broadcast(shapeOf(*x), *target);
  if (!shape)
    return shape.takeError();
  if (*shape == shapeOf(*x)) { // torch sometimes expands to the same shape
    output(0) = **in;
    return llvm::Error::success();
  }
  // x broadcast to the shape: where(ones of the shape, x, x) is x exactly.
  Value ones = fillOf(*shape, 1.0);
  setTensor(output(0), b.create<WhereOp>(loc, ones, *x, *x), *shape);
  output(0).boolean = (*in)->boolean;
  return llvm::Error::success();
}
