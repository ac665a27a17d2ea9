//===- OnnxImporter.cpp - import ONNX models op by op ---------------------===//
//
// A table-driven, forward translation of the ONNX graph (nodes are in
// topological order) into rose ops, one node at a time, each op located at
// its node's name. Shape arithmetic (Shape, Gather, Unsqueeze, Concat on
// int64 vectors) and constants fold into symbolic shapes and literals;
// every other value is a rose tensor. Fused layers are recognised after
// import by --rose-raise (passes/Raise.cpp), never needed for correctness.
//
//===----------------------------------------------------------------------===//
#include "frontend/OnnxImporter.h"
#include "frontend/OnnxImporterImpl.h"

using namespace mlir;
using namespace mlir::rose;
using namespace mlir::rose::onnx_import;

llvm::Error onnx_import::makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

//===----------------------------------------------------------------------===//
// Node context: errors, attributes, inputs
//===----------------------------------------------------------------------===//

llvm::Error Importer::fail(const llvm::Twine &why) const {
  return makeError(path + ": node '" + node->name() + "' (" + node->op_type() +
                   "): " + why);
}

const onnx::AttributeProto *Importer::attr(llvm::StringRef name) const {
  for (const onnx::AttributeProto &a : node->attribute())
    if (a.name() == name)
      return &a;
  return nullptr;
}

int64_t Importer::attrInt(llvm::StringRef name, int64_t fallback) const {
  const onnx::AttributeProto *a = attr(name);
  return a ? a->i() : fallback;
}

double Importer::attrFloat(llvm::StringRef name, double fallback) const {
  const onnx::AttributeProto *a = attr(name);
  return a ? a->f() : fallback;
}

std::optional<std::vector<int64_t>>
Importer::attrInts(llvm::StringRef name) const {
  const onnx::AttributeProto *a = attr(name);
  if (!a)
    return std::nullopt;
  return std::vector<int64_t>(a->ints().begin(), a->ints().end());
}

size_t Importer::numInputs() const {
  // Trailing empty names are omitted optional inputs.
  size_t n = node->input_size();
  while (n > 0 && node->input(n - 1).empty())
    --n;
  return n;
}

llvm::Expected<Entry *> Importer::input(size_t i) {
  if (i >= numInputs() || node->input(i).empty())
    return fail("missing input #" + llvm::Twine(i));
  auto it = values.find(node->input(i));
  if (it == values.end())
    return fail("input '" + node->input(i) +
                "' is not produced by any earlier node, input or initializer");
  return &it->second;
}

Entry &Importer::output(size_t i) { return values[node->output(i)]; }

llvm::Expected<Literal> Importer::literalInput(size_t i) {
  llvm::Expected<Entry *> e = input(i);
  if (!e)
    return e.takeError();
  if ((*e)->literal)
    return *(*e)->literal;
  if ((*e)->weight) {
    llvm::Expected<Literal> lit = reader.literal(*(*e)->weight);
    if (!lit)
      return fail(llvm::toString(lit.takeError()));
    return lit;
  }
  return fail("input '" + node->input(i) + "' must be a constant");
}

llvm::Expected<std::optional<double>> Importer::scalarInput(size_t i) {
  llvm::Expected<Entry *> e = input(i);
  if (!e)
    return e.takeError();
  if (!(*e)->literal && !(*e)->weight)
    return std::optional<double>();
  llvm::Expected<Literal> lit = literalInput(i);
  if (!lit)
    return lit.takeError();
  if (!lit->isScalar())
    return std::optional<double>();
  return std::optional<double>(lit->values[0]);
}

llvm::Expected<SymShape> Importer::shapeInput(size_t i) {
  llvm::Expected<Entry *> e = input(i);
  if (!e)
    return e.takeError();
  if ((*e)->shapeVector)
    return *(*e)->shapeVector;
  llvm::Expected<Literal> lit = literalInput(i);
  if (!lit)
    return lit.takeError();
  SymShape out;
  for (double v : lit->values)
    out.push_back(SymDim::known(toInt64(v)));
  return out;
}

//===----------------------------------------------------------------------===//
// Materializing tensors
//===----------------------------------------------------------------------===//

Type Importer::elementTypeOf(::rose::DType dtype) {
  switch (dtype) {
  case ::rose::DType::F16:
    return b.getF16Type();
  case ::rose::DType::BF16:
    return b.getBF16Type();
  default:
    return b.getF32Type();
  }
}

llvm::Expected<Value> Importer::param(const onnx::TensorProto &init,
                                      llvm::StringRef name, bool transpose) {
  auto it = params.find(name);
  if (it != params.end())
    return it->second;
  llvm::Expected<TensorBytes> bytes = reader.read(init);
  if (!bytes)
    return fail(llvm::toString(bytes.takeError()));
  if (bytes->dtype != ::rose::DType::F32 &&
      bytes->dtype != ::rose::DType::F16 && bytes->dtype != ::rose::DType::BF16)
    return fail("weight '" + init.name() + "' has dtype " +
                std::string(::rose::dtypeName(bytes->dtype)) +
                "; weights must be float32, float16 or bfloat16");
  SmallVector<int64_t> dims(bytes->dims.begin(), bytes->dims.end());
  if (transpose)
    std::reverse(dims.begin(), dims.end());
  Value value = b.create<ParamOp>(
      loc, RankedTensorType::get(dims, elementTypeOf(bytes->dtype)), name);
  params[name] = value;
  weightsToWrite.push_back({name.str(), &init, transpose});
  return value;
}

llvm::Expected<Value> Importer::tensor(size_t i) {
  llvm::Expected<Entry *> e = input(i);
  if (!e)
    return e.takeError();
  Entry &entry = **e;
  if (entry.merged)
    return fail("input '" + node->input(i) + "' is a flattened view " +
                formatSym(entry.shape) + " of " +
                formatSym(shapeOf(entry.tensor)) +
                ", which only a Gemm or the reshape back may read");
  if (entry.tensor)
    return entry.tensor;
  if (entry.weight) {
    llvm::Expected<Value> p = param(*entry.weight, entry.weight->name(), false);
    if (!p)
      return p.takeError();
    setTensor(entry, *p,
              staticShape(cast<RankedTensorType>(p->getType()).getShape()));
    return *p;
  }
  if (entry.literal && !entry.literal->isInteger) {
    SmallVector<float> data(entry.literal->values.begin(),
                            entry.literal->values.end());
    auto type = RankedTensorType::get(entry.literal->dims, b.getF32Type());
    Value c = b.create<ConstantOp>(
        loc, type, DenseElementsAttr::get(type, llvm::ArrayRef(data)));
    setTensor(entry, c, staticShape(entry.literal->dims));
    return c;
  }
  std::string what = entry.shapeVector ? "shape arithmetic"
                     : entry.literal   ? "an integer constant"
                                       : "not a tensor";
  return fail("input '" + node->input(i) + "' is " + what +
              " and cannot be used as a tensor here");
}

SymShape Importer::staticShape(llvm::ArrayRef<int64_t> dims) {
  SymShape s;
  for (int64_t d : dims)
    s.push_back(SymDim::known(d));
  return s;
}

SymShape Importer::shapeOf(Value v) {
  auto it = symShapes.find(v);
  if (it != symShapes.end())
    return it->second;
  // An op whose result type could not be inferred has an unranked result;
  // the module verifier reports it, so an empty shape here is never used.
  auto ranked = dyn_cast<RankedTensorType>(v.getType());
  return ranked ? staticShape(ranked.getShape()) : SymShape();
}

llvm::Expected<SymShape> Importer::broadcast(const SymShape &a,
                                             const SymShape &b) {
  size_t rank = std::max(a.size(), b.size());
  SymShape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    SymDim da = i < a.size() ? a[a.size() - 1 - i] : SymDim::known(1);
    SymDim db = i < b.size() ? b[b.size() - 1 - i] : SymDim::known(1);
    SymDim &d = out[rank - 1 - i];
    if (da == db || (db.isStatic() && db.size == 1))
      d = da;
    else if (da.isStatic() && da.size == 1)
      d = db;
    else if (!da.isStatic() && db.isStatic())
      d = db;
    else if (da.isStatic() && !db.isStatic())
      d = da;
    else
      return fail("operand shapes " + formatSym(a) + " and " + formatSym(b) +
                  " do not broadcast");
  }
  return out;
}

std::string Importer::formatSym(const SymShape &shape) const {
  std::string out = "[";
  for (auto [i, d] : llvm::enumerate(shape)) {
    if (i)
      out += ", ";
    out += d.isStatic()                  ? std::to_string(d.size)
           : d.symbol == SymDim::kMerged ? std::string("(flattened)")
                                         : symbolNames[d.symbol];
  }
  return out + "]";
}

void Importer::setTensor(Entry &e, Value v, SymShape shape) {
  e.tensor = v;
  e.shape = shape;
  symShapes[v] = std::move(shape);
}

//===----------------------------------------------------------------------===//
// Driver
//===----------------------------------------------------------------------===//

llvm::Expected<OwningOpRef<ModuleOp>> Importer::run() {
  auto mapped = ::rose::MappedFile::open(path);
  if (!mapped)
    return makeError(mapped.status().message());
  if ((*mapped)->size() > size_t(INT32_MAX) ||
      !model.ParseFromArray((*mapped)->data(),
                            static_cast<int>((*mapped)->size())))
    return makeError(path + ": not a valid ONNX model (protobuf parse failed; "
                            "truncated or corrupt file?)");
  if (!model.has_graph() || model.graph().node_size() == 0)
    return makeError(path + ": ONNX model has no graph nodes");
  const onnx::GraphProto &graph = model.graph();

  for (const onnx::TensorProto &init : graph.initializer()) {
    Entry &e = values[init.name()];
    e.weight = &init;
    initializers[init.name()] = &init;
  }
  if (llvm::Error e = declareInputs(graph))
    return std::move(e);
  if (graph.output_size() != 1)
    return makeError(path + ": expected one graph output (logits), found " +
                     llvm::Twine(graph.output_size()));

  graphOutput = graph.output(0).name();
  const HandlerTable &table = handlers();
  for (const onnx::NodeProto &n : graph.node()) {
    node = &n;
    auto it = table.find(n.op_type());
    if (it == table.end() || !n.domain().empty() && n.domain() != "ai.onnx")
      return fail("unsupported op type");
    // Every handler defines output 0; protobuf's accessors do not check.
    if (n.output_size() == 0)
      return fail("node has no outputs");
    loc = n.name().empty() ? b.getUnknownLoc()
                           : Location(NameLoc::get(b.getStringAttr(n.name())));
    if (llvm::Error e = (this->*(it->second))())
      return std::move(e);
  }
  node = nullptr;
  loc = b.getUnknownLoc();
  return finish(graph.output(0).name());
}

llvm::Expected<OwningOpRef<ModuleOp>>
mlir::rose::importOnnx(MLIRContext &context, llvm::StringRef onnxPath,
                       llvm::StringRef weightsPath) {
  Importer importer(context, onnxPath, weightsPath);
  return importer.run();
}
