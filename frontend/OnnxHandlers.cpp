//===- OnnxHandlers.cpp - ONNX op handlers: data movement and shapes ------===//
#include "frontend/OnnxImporterImpl.h"
#include "passes/Passes.h"
#include "runtime/CheckedMath.h"
#include "runtime/Safetensors.h"

#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/Path.h"

using namespace mlir;
using namespace mlir::rose;
using namespace mlir::rose::onnx_import;

Importer::Importer(MLIRContext &context, llvm::StringRef path,
                   llvm::StringRef weightsPath)
    : context(context), path(path.str()), weightsPath(weightsPath.str()),
      reader(llvm::sys::path::parent_path(path).str()), b(&context),
      loc(b.getUnknownLoc()) {
  context.loadDialect<RoseDialect, func::FuncDialect>();
}

const HandlerTable &Importer::handlers() {
  static const HandlerTable table = {
      {"Constant", &Importer::onConstant},
      {"Identity", &Importer::onIdentity},
      {"Cast", &Importer::onCast},
      {"Shape", &Importer::onShape},
      {"Gather", &Importer::onGather},
      {"Unsqueeze", &Importer::onUnsqueeze},
      {"Squeeze", &Importer::onSqueeze},
      {"Concat", &Importer::onConcat},
      {"Range", &Importer::onRange},
      {"Reshape", &Importer::onReshape},
      {"Transpose", &Importer::onTranspose},
      {"MatMul", &Importer::onMatMul},
      {"Gemm", &Importer::onGemm},
      {"Add", &Importer::onBinary},
      {"Sub", &Importer::onBinary},
      {"Mul", &Importer::onBinary},
      {"Div", &Importer::onBinary},
      {"Pow", &Importer::onBinary},
      {"Max", &Importer::onBinary},
      {"Min", &Importer::onBinary},
      {"Equal", &Importer::onBinary},
      {"Less", &Importer::onBinary},
      {"Greater", &Importer::onBinary},
      {"Tanh", &Importer::onUnary},
      {"Erf", &Importer::onUnary},
      {"Sqrt", &Importer::onUnary},
      {"Exp", &Importer::onUnary},
      {"Neg", &Importer::onUnary},
      {"Reciprocal", &Importer::onUnary},
      {"Sigmoid", &Importer::onUnary},
      {"Relu", &Importer::onUnary},
      {"Not", &Importer::onUnary},
      {"Cos", &Importer::onUnary},
      {"Sin", &Importer::onUnary},
      {"ReduceMean", &Importer::onReduce},
      {"ReduceSum", &Importer::onReduce},
      {"ReduceMax", &Importer::onReduce},
      {"LayerNormalization", &Importer::onLayerNorm},
      {"Softmax", &Importer::onSoftmax},
      {"Split", &Importer::onSplit},
      {"Slice", &Importer::onSlice},
      {"Expand", &Importer::onExpand},
      {"ConstantOfShape", &Importer::onConstantOfShape},
      {"Trilu", &Importer::onTrilu},
      {"Where", &Importer::onWhere},
  };
  return table;
}

//===----------------------------------------------------------------------===//
// Graph inputs and outputs
//===----------------------------------------------------------------------===//

llvm::Error Importer::declareInputs(const onnx::GraphProto &graph) {
  std::vector<const onnx::ValueInfoProto *> inputs;
  for (const onnx::ValueInfoProto &in : graph.input())
    if (!initializers.count(in.name()))
      inputs.push_back(&in);
  if (inputs.size() != 1)
    return makeError(path + ": expected one graph input (token ids), found " +
                     llvm::Twine(inputs.size()));
  const onnx::ValueInfoProto &in = *inputs[0];
  const onnx::TypeProto::Tensor &type = in.type().tensor_type();
  if (type.elem_type() != onnx::TensorProto::INT64 &&
      type.elem_type() != onnx::TensorProto::INT32)
    return makeError(path + ": graph input '" + in.name() +
                     "' must be int64 or int32 token ids");
  if (type.shape().dim_size() != 2)
    return makeError(path + ": graph input '" + in.name() +
                     "' must be rank 2 [batch, seq], got rank " +
                     llvm::Twine(type.shape().dim_size()));
  SymShape shape;
  SmallVector<int64_t> dims;
  for (const auto &dim : type.shape().dim()) {
    if (dim.has_dim_value() && dim.dim_value() > 0) {
      shape.push_back(SymDim::known(dim.dim_value()));
      dims.push_back(dim.dim_value());
      continue;
    }
    shape.push_back(SymDim::unknown(static_cast<int>(symbolNames.size())));
    symbolNames.push_back(dim.dim_param().empty()
                              ? "dim" + std::to_string(symbolNames.size())
                              : dim.dim_param());
    dims.push_back(ShapedType::kDynamic);
  }
  Type idsType = RankedTensorType::get(
      dims, type.elem_type() == onnx::TensorProto::INT64 ? b.getI64Type()
                                                         : b.getI32Type());
  module = ModuleOp::create(loc);
  b.setInsertionPointToEnd(module->getBody());
  function =
      b.create<func::FuncOp>(loc, "forward", b.getFunctionType({idsType}, {}));
  Block *body = function.addEntryBlock();
  b.setInsertionPointToEnd(body);
  inputIds = body->getArgument(0);
  setTensor(values[in.name()], inputIds, shape);
  return llvm::Error::success();
}

llvm::Expected<OwningOpRef<ModuleOp>>
Importer::finish(const std::string &outputName) {
  auto it = values.find(outputName);
  if (it == values.end() || !it->second.tensor)
    return makeError(path + ": graph output '" + outputName +
                     "' is not a tensor the import produced (a constant, "
                     "shape arithmetic or a missing node)");
  Value logits = it->second.tensor;
  b.create<func::ReturnOp>(loc, logits);
  function.setType(
      b.getFunctionType(function.getArgumentTypes(), {logits.getType()}));
  module->getOperation()->setAttr(RoseDialect::kWeightsAttrName,
                                  b.getStringAttr(weightsPath));

  // Fused layers are recognised in the op-by-op graph; the folders and CSE
  // then merge duplicated shape-derived ops.
  PassManager pm(&context);
  pm.addPass(createRoseRaise());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  if (failed(verify(*module)) || failed(pm.run(*module)))
    return makeError(path + ": imported IR does not verify (importer bug)");
  if (llvm::Error e = writeWeights())
    return std::move(e);
  return std::move(module);
}

llvm::Error Importer::writeWeights() {
  // Storage for transposed copies must outlive the write.
  std::vector<std::vector<uint8_t>> transposed;
  std::vector<TensorBytes> sources;
  sources.reserve(weightsToWrite.size());
  std::vector<::rose::TensorToWrite> tensors;
  for (const WeightUse &use : weightsToWrite) {
    llvm::Expected<TensorBytes> bytes = reader.read(*use.source);
    if (!bytes)
      return makeError(path + ": " + llvm::toString(bytes.takeError()));
    sources.push_back(std::move(*bytes));
    TensorBytes &src = sources.back();
    if (!src.owned.empty())
      src.data = src.owned.data();
    std::vector<int64_t> shape = src.dims;
    const void *data = src.data;
    if (use.transposed) {
      int64_t rows = shape[0], cols = shape[1];
      size_t elem = ::rose::dtypeSize(src.dtype);
      std::vector<uint8_t> &t = transposed.emplace_back(src.size);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c)
          std::memcpy(t.data() + (c * rows + r) * elem,
                      src.data + (r * cols + c) * elem, elem);
      std::swap(shape[0], shape[1]);
      data = t.data();
    }
    tensors.push_back({use.name, src.dtype, shape, data});
  }
  ::rose::Status status = ::rose::writeSafetensors(weightsPath, tensors);
  if (!status.ok())
    return makeError(status.message());
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// Constants, casts, shape arithmetic
//===----------------------------------------------------------------------===//

llvm::Error Importer::onConstant() {
  Entry &out = output(0);
  Literal lit;
  if (const onnx::AttributeProto *a = attr("value")) {
    // Up to a 2048-position mask buffer (torch exports registered buffers
    // as Constant nodes).
    llvm::Expected<Literal> l = reader.literal(a->t(), int64_t(1) << 22);
    if (!l)
      return fail(llvm::toString(l.takeError()));
    lit = *l;
  } else if (const onnx::AttributeProto *a = attr("value_float")) {
    lit.values = {a->f()};
  } else if (const onnx::AttributeProto *a = attr("value_int")) {
    lit.isInteger = true;
    lit.values = {double(a->i())};
  } else if (const onnx::AttributeProto *a = attr("value_ints")) {
    lit.isInteger = true;
    lit.dims = {a->ints_size()};
    for (int64_t v : a->ints())
      lit.values.push_back(double(v));
  } else if (const onnx::AttributeProto *a = attr("value_floats")) {
    lit.dims = {a->floats_size()};
    for (float v : a->floats())
      lit.values.push_back(v);
  } else {
    return fail("unsupported Constant form (expected value, value_float(s) "
                "or value_int(s))");
  }
  if (const onnx::AttributeProto *a = attr("value");
      a && a->t().data_type() == onnx::TensorProto::BOOL) {
    lit.isInteger = false; // a mask: 0/1 floats
    out.boolean = true;
  }
  out.literal = lit;
  if (lit.isInteger && lit.dims.size() <= 1) {
    SymShape v;
    for (double x : lit.values)
      v.push_back(SymDim::known(toInt64(x)));
    out.shapeVector = v;
    out.shapeScalar = lit.dims.empty();
  }
  return llvm::Error::success();
}

llvm::Error Importer::onIdentity() {
  llvm::Expected<Entry *> in = input(0);
  if (!in)
    return in.takeError();
  output(0) = **in;
  return llvm::Error::success();
}

llvm::Error Importer::onCast() {
  llvm::Expected<Entry *> in = input(0);
  if (!in)
    return in.takeError();
  int64_t to = attrInt("to", 0);
  bool toInteger = to == onnx::TensorProto::INT64 ||
                   to == onnx::TensorProto::INT32 ||
                   to == onnx::TensorProto::BOOL;
  Entry out = **in;
  if (out.shapeVector && !toInteger) {
    // A dim used as a number (HF's sqrt(float(head_dim))): a float literal.
    Literal lit;
    for (SymDim d : *out.shapeVector) {
      if (!d.isStatic())
        return fail("casting the dynamic dim " + formatSym({d}) +
                    " to a float is not supported");
      lit.values.push_back(double(d.size));
    }
    if (!out.shapeScalar)
      lit.dims = {int64_t(lit.values.size())};
    out.shapeVector.reset();
    out.shapeScalar = false;
    out.literal = lit;
    output(0) = out;
    return llvm::Error::success();
  }
  if (out.literal) {
    // Booleans stay 0/1 floats; integers truncate.
    bool toBool = to == onnx::TensorProto::BOOL;
    out.literal->isInteger = toInteger && !toBool;
    for (double &v : out.literal->values)
      v = toBool ? double(v != 0.0) : toInteger ? std::trunc(v) : v;
    out.boolean = toBool || (out.boolean && !toInteger);
  }
  if (out.tensor) {
    Type element = getElementTypeOrSelf(out.tensor.getType());
    if (to == onnx::TensorProto::BOOL && element.isF32()) {
      // x != 0 as 0/1, unless it is 0/1 already.
      if (!out.boolean) {
        Value nz = b.create<NotOp>(loc, b.create<NotOp>(loc, out.tensor));
        setTensor(out, nz, out.shape);
      }
      out.boolean = true;
    } else if (to == onnx::TensorProto::FLOAT && element.isInteger(64)) {
      // Position ids made floats (HF's rotary embedding). An integer
      // tensor may be a view (unit dims added): the float one is reshaped.
      Value f = b.create<CastOp>(loc, out.tensor);
      if (shapeOf(f) != out.shape) {
        llvm::Expected<Value> r = reshapeTo(f, out.shape);
        if (!r)
          return r.takeError();
        f = *r;
      }
      setTensor(out, f, out.shape);
      out.boolean = false;
    } else {
      bool same = (to == onnx::TensorProto::FLOAT && element.isF32()) ||
                  (to == onnx::TensorProto::INT64 && element.isInteger(64)) ||
                  (to == onnx::TensorProto::INT32 && element.isInteger(32));
      if (!same)
        return fail("casting a tensor between element types is not "
                    "supported (to = " +
                    llvm::Twine(to) + ")");
      out.boolean = out.boolean && to == onnx::TensorProto::FLOAT;
    }
  }
  output(0) = out;
  return llvm::Error::success();
}

llvm::Error Importer::onShape() {
  llvm::Expected<Entry *> in = input(0);
  if (!in)
    return in.takeError();
  SymShape shape;
  if ((*in)->tensor)
    shape = (*in)->shape;
  else if ((*in)->literal && !(*in)->shapeVector)
    shape = staticShape((*in)->literal->dims);
  else if ((*in)->weight)
    shape = staticShape(llvm::SmallVector<int64_t>(
        (*in)->weight->dims().begin(), (*in)->weight->dims().end()));
  else if ((*in)->shapeVector && !(*in)->shapeScalar)
    shape = {SymDim::known((*in)->shapeVector->size())};
  else if ((*in)->shapeVector)
    shape = {};
  else
    return fail("Shape of a value whose shape is unknown at import");
  int64_t rank = shape.size();
  int64_t start = attrInt("start", 0), end = attrInt("end", rank);
  start = std::clamp<int64_t>(start < 0 ? start + rank : start, 0, rank);
  end = std::clamp<int64_t>(end < 0 ? end + rank : end, 0, rank);
  Entry &out = output(0);
  out.shapeVector =
      SymShape(shape.begin() + start, shape.begin() + std::max(start, end));
  return llvm::Error::success();
}

llvm::Error Importer::onUnsqueeze() {
  llvm::Expected<Entry *> in = input(0);
  if (!in)
    return in.takeError();
  llvm::Expected<Literal> axes = literalInput(1);
  if (!axes)
    return axes.takeError();
  if ((*in)->shapeVector && (*in)->shapeScalar) {
    if (axes->values != std::vector<double>{0.0})
      return fail("unsqueeze of a shape scalar must use axes [0]");
    Entry &out = output(0);
    out.shapeVector = (*in)->shapeVector;
    out.shapeScalar = false;
    return llvm::Error::success();
  }
  llvm::Expected<Value> x = tensor(0);
  if (!x)
    return x.takeError();
  SymShape shape = (*in)->shape; // an integer tensor's view, not its data's
  SmallVector<int64_t> sortedAxes;
  int64_t rank = shape.size() + axes->values.size();
  for (double a : axes->values)
    sortedAxes.push_back(a < 0 ? toInt64(a) + rank : toInt64(a));
  llvm::sort(sortedAxes);
  for (int64_t a : sortedAxes) {
    if (a < 0 || a > int64_t(shape.size()))
      return fail("unsqueeze axis out of range");
    shape.insert(shape.begin() + a, SymDim::known(1));
  }
  return reshapeEntry(**in, *x, shape);
}

llvm::Error Importer::reshapeEntry(const Entry &in, Value x,
                                   const SymShape &shape) {
  Entry &out = output(0);
  if (getElementTypeOrSelf(x.getType()).isInteger(64) ||
      getElementTypeOrSelf(x.getType()).isInteger(32)) {
    // Integer tensors (token ids, positions) are only viewed: unit dims
    // come and go, the data stays.
    auto nonUnit = [](const SymShape &s) {
      SymShape r;
      for (SymDim d : s)
        if (!(d.isStatic() && d.size == 1))
          r.push_back(d);
      return r;
    };
    if (nonUnit(shape) != nonUnit(shapeOf(x)))
      return fail("reshaping an integer tensor " + formatSym(shapeOf(x)) +
                  " -> " + formatSym(shape) + " is not supported");
    out = in;
    out.shape = shape;
    return llvm::Error::success();
  }
  llvm::Expected<Value> r = reshapeTo(x, shape);
  if (!r)
    return r.takeError();
  setTensor(out, *r, shape);
  out.boolean = in.boolean;
  return llvm::Error::success();
}

llvm::Error Importer::onSqueeze() {
  llvm::Expected<Entry *> in = input(0);
  if (!in)
    return in.takeError();
  std::optional<std::vector<int64_t>> axes = attrInts("axes");
  if (!axes && numInputs() > 1) {
    llvm::Expected<Literal> lit = literalInput(1);
    if (!lit)
      return lit.takeError();
    axes.emplace();
    for (double v : lit->values)
      axes->push_back(toInt64(v));
  }
  if ((*in)->shapeVector && !(*in)->shapeScalar) {
    if ((*in)->shapeVector->size() != 1 ||
        (axes && *axes != std::vector<int64_t>{0}))
      return fail("squeeze of a shape vector must take its one element");
    Entry &out = output(0);
    out.shapeVector = (*in)->shapeVector;
    out.shapeScalar = true;
    return llvm::Error::success();
  }
  llvm::Expected<Value> x = tensor(0);
  if (!x)
    return x.takeError();
  SymShape shape = (*in)->shape, squeezed; // a view's shape, for integers
  int64_t rank = shape.size();
  for (int64_t d = 0; d < rank; ++d) {
    bool listed = !axes || llvm::is_contained(*axes, d) ||
                  llvm::is_contained(*axes, d - rank);
    bool one = shape[d].isStatic() && shape[d].size == 1;
    if (listed && axes && !one)
      return fail("squeeze of dim " + llvm::Twine(d) + " of " +
                  formatSym(shape) + ", which is not 1");
    if (!(listed && one))
      squeezed.push_back(shape[d]);
  }
  return reshapeEntry(**in, *x, squeezed);
}

llvm::Error Importer::onConcat() {
  int64_t axis = attrInt("axis", 0);
  bool allShapes = true;
  for (size_t i = 0; i < numInputs(); ++i) {
    llvm::Expected<Entry *> in = input(i);
    if (!in)
      return in.takeError();
    allShapes &= (*in)->shapeVector.has_value() && !(*in)->shapeScalar;
  }
  if (allShapes) {
    if (axis != 0 && axis != -1)
      return fail("shape vectors concatenate on axis 0");
    SymShape v;
    for (size_t i = 0; i < numInputs(); ++i)
      v.append((*input(i))->shapeVector->begin(),
               (*input(i))->shapeVector->end());
    output(0).shapeVector = v;
    return llvm::Error::success();
  }
  SmallVector<Value> tensors;
  for (size_t i = 0; i < numInputs(); ++i) {
    llvm::Expected<Value> t = tensor(i);
    if (!t)
      return t.takeError();
    tensors.push_back(*t);
  }
  SymShape shape = shapeOf(tensors[0]);
  int64_t a = axis < 0 ? axis + int64_t(shape.size()) : axis;
  for (Value t : tensors)
    if (a < 0 || a >= int64_t(shapeOf(t).size()))
      return fail("concat axis " + llvm::Twine(axis) +
                  " is out of range for an input of rank " +
                  llvm::Twine(shapeOf(t).size()));
  auto op = b.create<ConcatOp>(loc, tensors, axis);
  std::optional<int64_t> total = 0;
  for (Value t : tensors) {
    SymDim d = shapeOf(t)[a];
    if (!d.isStatic())
      return fail("concatenating along a dynamic dim is not supported");
    if (!(total = ::rose::checkedAdd(*total, d.size)))
      return fail("concatenated size along axis " + llvm::Twine(axis) +
                  " overflows");
  }
  shape[a] = SymDim::known(*total);
  setTensor(output(0), op, shape);
  return llvm::Error::success();
}

llvm::Error Importer::onRange() {
  llvm::Expected<std::optional<double>> start = scalarInput(0);
  llvm::Expected<std::optional<double>> delta = scalarInput(2);
  llvm::Expected<SymShape> limit = shapeInput(1);
  if (!start || !delta || !*start || !*delta)
    return fail("Range needs constant start and delta");
  if (!limit || limit->size() != 1)
    return fail("Range's limit must be a scalar");
  SymDim n = (*limit)[0];
  Entry &out = output(0);
  if (n.isStatic()) { // a constant
    Literal lit;
    lit.isInteger = true;
    for (double v = **start; **delta > 0 ? v < n.size : v > n.size;
         v += **delta) {
      lit.values.push_back(v);
      if (lit.values.size() > (1u << 24))
        return fail("Range is too long");
    }
    lit.dims = {int64_t(lit.values.size())};
    out.literal = lit;
    out.shapeVector =
        staticShape(SmallVector<int64_t>(lit.values.begin(), lit.values.end()));
    return llvm::Error::success();
  }
  if (**start != 0.0 || **delta != 1.0)
    return fail("Range to a dynamic limit must start at 0 with step 1");
  llvm::Expected<Value> iota = iotaOf(n);
  if (!iota)
    return iota.takeError();
  setTensor(out, *iota, {n});
  return llvm::Error::success();
}

llvm::Expected<Value> Importer::iotaOf(SymDim d) {
  SymShape ids = shapeOf(inputIds);
  for (auto [i, s] : llvm::enumerate(ids))
    if (s == d)
      return b.create<IotaOp>(loc, inputIds, int64_t(i)).getResult();
  return fail("the dynamic dim '" + symbolNames[d.symbol] +
              "' is not a dim of the graph input");
}

llvm::Error Importer::onGather() {
  llvm::Expected<Entry *> data = input(0);
  llvm::Expected<Entry *> indices = input(1);
  if (!data)
    return data.takeError();
  if (!indices)
    return indices.takeError();
  int64_t axis = attrInt("axis", 0);
  Entry &out = output(0);
  // Shape arithmetic: an element of a shape vector.
  if ((*data)->shapeVector) {
    llvm::Expected<Literal> idx = literalInput(1);
    if (!idx)
      return idx.takeError();
    const SymShape &v = *(*data)->shapeVector;
    SymShape picked;
    for (double i : idx->values) {
      int64_t k = i < 0 ? toInt64(i) + int64_t(v.size()) : toInt64(i);
      if (k < 0 || k >= int64_t(v.size()))
        return fail("index out of range of the shape vector");
      picked.push_back(v[k]);
    }
    out.shapeVector = picked;
    out.shapeScalar = idx->dims.empty();
    return llvm::Error::success();
  }
  llvm::Expected<Value> x = tensor(0);
  if (!x)
    return x.takeError();
  llvm::Expected<Value> ids = tensor(1);
  if (!ids)
    return ids.takeError();
  // Integer indices may be a view with unit dims inserted (the importer
  // reshapes only floats): gather at the underlying tensor, then reshape.
  SymShape shape = shapeOf(*x), idsShape = (*indices)->shape;
  int64_t rank = shape.size();
  if (axis < 0)
    axis += rank;
  if (axis < 0 || axis >= rank)
    return fail("gather axis out of range");
  if (!getElementTypeOrSelf(ids->getType()).isInteger(64))
    return fail("gather indices must be int64");
  // Token ids [batch, seq] into a 2-D weight: an embedding lookup (which
  // the sharding plans know); anything else is a gather.
  Value r;
  if ((*data)->weight && axis == 0 && rank == 2 && shapeOf(*ids).size() == 2)
    r = b.create<EmbeddingOp>(loc, *x, *ids, nullptr);
  else
    r = b.create<GatherOp>(loc, *x, *ids, axis);
  auto resultShape = [&](const SymShape &ix) {
    SymShape o(shape.begin(), shape.begin() + axis);
    o.append(ix.begin(), ix.end());
    o.append(shape.begin() + axis + 1, shape.end());
    return o;
  };
  SymShape outShape = resultShape(idsShape);
  if (idsShape != shapeOf(*ids)) {
    symShapes[r] = resultShape(shapeOf(*ids));
    llvm::Expected<Value> v = reshapeTo(r, outShape);
    if (!v)
      return v.takeError();
    r = *v;
  }
  setTensor(out, r, outShape);
  return llvm::Error::success();
}
