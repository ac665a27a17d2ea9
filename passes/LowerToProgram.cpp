//===- LowerToProgram.cpp - rose IR to a runtime program file -------------===//
//
// Lowers the SPMD @forward (and the dense tp=1 @forward, for --check-against)
// into the FlatBuffers program the runtime executes: entry points over shared
// params, ops with typed attributes, the mesh, and symbolic value shapes.
// MLIR types say only `?` for a dynamic dim; the lowering derives what each
// one is, as an affine expression of the symbols `batch` and `seq`, from the
// token ids through every op (a sequence-parallel value is `seq / tp`). The
// runtime plans memory from these shapes for each call.
//
//===----------------------------------------------------------------------===//
#include "passes/LowerToProgram.h"
#include "dialect/RoseOps.h"
#include "passes/AffineShape.h"
#include "passes/Lowerer.h"
#include "passes/ShardingPlan.h"
#include "passes/TokenLocal.h"
#include "runtime/CheckedMath.h"
#include "runtime/Program.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>
#include <cstring>
#include <map>
#include <numeric>

using namespace mlir;
using namespace mlir::rose;
using namespace mlir::rose::lowering;

FailureOr<int32_t> ParamTable::get(ConstantOp constant) {
  auto type = dyn_cast<RankedTensorType>(constant.getType());
  auto values = dyn_cast<DenseElementsAttr>(constant.getValue());
  if (!type || !values || !type.getElementType().isF32() ||
      !type.hasStaticShape())
    return constant.emitError("rose-compile: only static f32 constants reach "
                              "the runtime, got ")
           << constant.getType();
  std::vector<int64_t> shape(type.getShape().begin(), type.getShape().end());
  if (auto it = constants.find(constant); it != constants.end())
    return it->second;
  std::vector<float> data;
  data.reserve(type.getNumElements());
  for (APFloat v : values.getValues<APFloat>())
    data.push_back(v.convertToFloat());
  std::string name = "constant";
  if (auto loc = dyn_cast<NameLoc>(constant.getLoc()))
    name += " " + loc.getName().str();
  int32_t id = params.size();
  params.push_back(fb::CreateParamDirect(fbb, name.c_str(),
                                         fb::ElementType::F32, &shape, &shape,
                                         -1, 1, 1, sliceAxis, &data));
  constants[constant] = id;
  return id;
}

FailureOr<int32_t> ParamTable::get(ParamOp param) {
  FailureOr<fb::ElementType> et = elementType(param, param.getType());
  if (failed(et))
    return failure();
  std::vector<int64_t> shape(param.getType().getShape().begin(),
                             param.getType().getShape().end());
  std::vector<int64_t> full = shape;
  int64_t dim = -1, parts = 1, groups = 1, replicas = 1;
  if (param.getRepeat())
    return param.emitOpError()
           << "param '" << param.getName()
           << "' is repeated for kv-head replication but was never split";
  if (WeightSliceAttr slice = param.getSliceAttr()) {
    full.assign(slice.getFull().begin(), slice.getFull().end());
    dim = slice.getDim();
    parts = slice.getParts();
    groups = slice.getGroups();
    replicas = slice.getReplicas();
  }
  std::string key = param.getName().str();
  for (int64_t v : shape)
    key += "," + std::to_string(v);
  key += "|" + std::to_string(dim) + "," + std::to_string(parts) + "," +
         std::to_string(groups) + "," + std::to_string(replicas);
  if (auto it = ids.find(key); it != ids.end())
    return it->second;
  int32_t id = params.size();
  params.push_back(fb::CreateParamDirect(fbb, param.getName().str().c_str(),
                                         *et, &shape, &full, dim, parts, groups,
                                         sliceAxis, nullptr, replicas));
  ids[key] = id;
  return id;
}

FailureOr<int32_t> Lowerer::defineValue(Value v, const std::string &name,
                                        AffineShape shape) {
  Operation *where =
      v.getDefiningOp() ? v.getDefiningOp() : v.getParentBlock()->getParentOp();
  FailureOr<fb::ElementType> et = elementType(where, v.getType());
  if (failed(et))
    return failure();
  int32_t id = values.size();
  values.push_back({name, *et, std::move(shape)});
  valueIds[v] = id;
  return id;
}

FailureOr<fb::Operand> Lowerer::operand(Value v) {
  if (auto it = valueIds.find(v); it != valueIds.end())
    return fb::Operand(it->second, -1);
  FailureOr<int32_t> id = failure();
  if (auto param = v.getDefiningOp<ParamOp>())
    id = params.get(param);
  else if (auto constant = v.getDefiningOp<ConstantOp>())
    id = params.get(constant);
  else
    return emitError(v.getLoc(), "rose-compile: operand defined by an "
                                 "unsupported op");
  if (failed(id))
    return failure();
  return fb::Operand(-1, *id);
}
LogicalResult Lowerer::lowerOp(Operation *op) {
  // Params and constants are operands, stored in Program.params.
  if (isa<ParamOp, ConstantOp>(op))
    return success();
  // Fused into its operand's matmul: its result is the matmul's.
  if (auto it = fusedInto.find(op); it != fusedInto.end()) {
    int32_t id = valueIds.lookup(it->second);
    valueIds[op->getResult(0)] = id;
    values[id].name = layerName(op);
    return success();
  }
  if (isa<AllReduceOp, AllGatherOp, AllToAllOp, ReduceScatterOp, ShardSliceOp>(
          op))
    ++collectives[op->getName().getStringRef().str()];
  std::string layer = layerName(op);
  fb::OpAttrs kind = fb::OpAttrs::NONE;
  FailureOr<flatbuffers::Offset<void>> attrs = attributes(op, kind);
  if (failed(attrs))
    return failure();
  std::vector<fb::Operand> operands;
  for (Value v : op->getOperands()) {
    // Entering the tail: only the last row is needed.
    if (tail.contains(op) && valueIds.count(v) &&
        !tail.contains(v.getDefiningOp())) {
      FailureOr<int32_t> row = lastRow(v);
      if (failed(row))
        return failure();
      operands.push_back(fb::Operand(*row, -1));
      continue;
    }
    FailureOr<fb::Operand> o = operand(v);
    if (failed(o))
      return failure();
    operands.push_back(*o);
  }
  std::vector<int32_t> results;
  for (auto [i, r] : llvm::enumerate(op->getResults())) {
    FailureOr<AffineShape> shape = resultShape(op, r, i);
    if (failed(shape))
      return failure();
    FailureOr<int32_t> id = defineValue(r, layer, std::move(*shape));
    if (failed(id))
      return failure();
    results.push_back(*id);
  }
  if (cache) {
    auto shapeOf = [&](Value v) -> const AffineShape * {
      auto it = valueIds.find(v);
      return it == valueIds.end() ? nullptr : &values[it->second].shape;
    };
    // Tail ops see last rows (seq 1); the decode entry checks the same ops
    // on whole shapes, and drops both entries if one mixes tokens.
    if (!tail.contains(op))
      if (std::optional<std::string> why = tokenMixing(op, shapeOf))
        return refuse(op, *why);
    if (auto attention = dyn_cast<AttentionOp>(op))
      return lowerCachedAttention(attention, operands[0],
                                  {operands[1], operands[2]}, results[0],
                                  layer);
  }
  // The residual stream entering each LayerNorm of a block boundary is a
  // checkpoint for --check-against (replicated in every plan).
  if (auto ln = dyn_cast<LayerNormOp>(op); ln && !cache) {
    if (StringRef(layer).ends_with("ln_1") || layer == "ln_f") {
      if (valueIds.count(ln.getInput())) {
        int32_t id = valueIds.lookup(ln.getInput());
        values[id].name = blockName(layer) + " input";
        checkpoints.push_back(id);
      }
    }
  }
  ops.push_back(fb::CreateOpDirect(fbb, kind, *attrs, layer.c_str(), &operands,
                                   &results));
  return success();
}

FailureOr<int32_t> Lowerer::lastRow(Value v) {
  if (auto it = lastRows.find(v); it != lastRows.end())
    return it->second;
  int32_t id = valueIds.lookup(v);
  LoweredValue row = values[id];
  int64_t axis = -1;
  for (auto [d, dim] : llvm::enumerate(row.shape)) {
    if (dim == AffineDim::symbol(kSeq) && axis < 0)
      axis = d;
    else if (dependsOn(dim, kSeq))
      axis = -2;
  }
  if (axis < 0 || row.type != fb::ElementType::F32) {
    lastRowFailed = true;
    return failure();
  }
  row.shape[axis] = AffineDim::known(1);
  row.name += " last row";
  int32_t result = values.size();
  values.push_back(row);
  std::vector<fb::Operand> operands = {fb::Operand(id, -1)};
  std::vector<int32_t> results = {result};
  auto attrs = fb::CreateSlice(fbb, axis, -1, 0, /*from_end=*/true);
  ops.push_back(fb::CreateOpDirect(fbb, fb::OpAttrs::Slice, attrs.Union(),
                                   row.name.c_str(), &operands, &results));
  lastRows[v] = result;
  return result;
}

LogicalResult Lowerer::lowerCachedAttention(AttentionOp op, fb::Operand q,
                                            std::array<fb::Operand, 2> kv,
                                            int32_t result,
                                            const std::string &layer) {
  size_t pair = attentions++;
  std::array<int32_t, 2> written;
  for (int i = 0; i < 2; ++i) {
    if (kv[i].value() < 0)
      return refuse(op, "attention keys or values that are weights");
    const LoweredValue &update = values[kv[i].value()];
    // [batch, seq, the rank's kv columns]: the new tokens' rows.
    if (update.shape.size() != 3 ||
        !(update.shape[1] == AffineDim::symbol(kSeq)) ||
        !update.shape[2].isStatic())
      return refuse(op, "attention keys or values not [batch, seq, columns]");
    LoweredValue buffer{
        layer + (i ? " v cache" : " k cache"),
        update.type,
        {update.shape[0], AffineDim::known(cache->maxSeq), update.shape[2]},
        static_cast<int32_t>(2 * pair + i)};
    if (static_cast<size_t>(buffer.buffer) == cache->buffers.size())
      cache->buffers.push_back(buffer);
    const LoweredValue &shared = cache->buffers[buffer.buffer];
    if (shared.name != buffer.name || shared.type != buffer.type ||
        shared.shape != buffer.shape)
      return op->emitError("rose-compile: the generation entries disagree "
                           "on cache buffer '")
             << shared.name << "'";
    // The cache as the call finds it, then with the new rows at `past`.
    int32_t before = values.size();
    values.push_back(buffer);
    written[i] = values.size();
    values.push_back(buffer);
    std::vector<fb::Operand> operands = {fb::Operand(before, -1), kv[i]};
    std::vector<int32_t> results = {written[i]};
    auto attrs =
        fb::CreateCacheWrite(fbb, 1, lowerDim(fbb, AffineDim::symbol(kPast)));
    ops.push_back(fb::CreateOpDirect(fbb, fb::OpAttrs::CacheWrite,
                                     attrs.Union(), layer.c_str(), &operands,
                                     &results));
  }
  AffineDim kvLen = AffineDim::symbol(kSeq);
  kvLen.coeff[kPast] = 1;
  int64_t headDim = op.getType().getDimSize(2) / op.getNumHeads();
  double scale = op.getScale() ? op.getScale()->convertToDouble()
                               : 1.0 / std::sqrt(double(headDim));
  auto attrs = fb::CreateAttention(
      fbb, op.getNumHeads(), op.getCausal(), scale, op.getNumKvHeads(),
      op.getWindow().value_or(0), lowerDim(fbb, kvLen));
  std::vector<fb::Operand> operands = {q, fb::Operand(written[0], -1),
                                       fb::Operand(written[1], -1)};
  std::vector<int32_t> results = {result};
  ops.push_back(fb::CreateOpDirect(fbb, fb::OpAttrs::Attention, attrs.Union(),
                                   layer.c_str(), &operands, &results));
  return success();
}

FailureOr<flatbuffers::Offset<fb::Function>> Lowerer::lower(ModuleOp module,
                                                            StringRef name) {
  func::FuncOp fn;
  for (auto f : module.getOps<func::FuncOp>())
    if (!f.isExternal()) {
      if (fn)
        return f.emitError("rose-compile: expected one function");
      fn = f;
    }
  if (!fn || !fn.getBody().hasOneBlock() || fn.getNumArguments() != 1 ||
      fn.getNumResults() != 1)
    return module.emitError("rose-compile: expected one function taking "
                            "token ids and returning logits");
  Value tokens = fn.getArgument(0);
  auto tokensType = dyn_cast<RankedTensorType>(tokens.getType());
  if (!tokensType || tokensType.getRank() != 2 ||
      !tokensType.getElementType().isInteger(64) ||
      !tokensType.isDynamicDim(0) || !tokensType.isDynamicDim(1))
    return fn.emitError("rose-compile: the function must take int64 token ids "
                        "[batch, seq] (both dynamic)");
  FailureOr<int32_t> input = defineValue(
      tokens, "tokens", {AffineDim::symbol(kBatch), AffineDim::symbol(kSeq)});
  if (failed(input))
    return failure();
  Operation *ret = fn.getBody().front().getTerminator();
  // Positions depend on the row's index, not only on its inputs: they stay
  // out of the tail (a tail op that reads them then falls back to every
  // position, since only float values are sliced).
  if (lastRowOnly)
    for (Operation &op :
         llvm::reverse(fn.getBody().front().without_terminator()))
      if (!isa<AttentionOp, PositionsOp>(op) && !op.use_empty() &&
          llvm::all_of(op.getUsers(), [&](Operation *user) {
            return user == ret || tail.contains(user);
          }))
        tail.insert(&op);
  for (Operation &op : fn.getBody().front().without_terminator())
    if (failed(lowerOp(&op)))
      return failure();
  Value result = ret->getOperand(0);
  if (!valueIds.count(result))
    return ret->emitError("rose-compile: the result must be computed");
  int32_t output = valueIds.lookup(result);
  values[output].name = "logits";

  std::vector<flatbuffers::Offset<fb::Value>> fbValues;
  for (const LoweredValue &v : values) {
    std::vector<flatbuffers::Offset<fb::Dim>> dims;
    for (const AffineDim &d : v.shape)
      dims.push_back(lowerDim(fbb, d));
    fbValues.push_back(
        fb::CreateValueDirect(fbb, v.name.c_str(), v.type, &dims, v.buffer));
  }
  numOps = ops.size();
  numValues = values.size();
  std::vector<int32_t> inputs = {*input}, outputs = {output};
  // Logits narrower than the vocab (lm-head=sharded) stay split over tp.
  auto logitsType = cast<RankedTensorType>(result.getType());
  int64_t shards = logitsType.getRank() == 3 && tp > 1 &&
                           !logitsType.isDynamicDim(2) &&
                           logitsType.getDimSize(2) < vocab
                       ? tp
                       : 0;
  return fb::CreateFunctionDirect(fbb, name.str().c_str(), &fbValues, &ops,
                                  &inputs, &outputs, &checkpoints, shards,
                                  axisIndex("dp"));
}

FailureOr<std::string> mlir::rose::lowerToProgram(
    ModuleOp main, ModuleOp dense, llvm::StringRef weightsPath,
    ProgramStats *stats, unsigned version, const GenerationOptions *generation,
    const LoweringOptions &lowering) {
  flatbuffers::FlatBufferBuilder fbb;
  int64_t tp = 1;
  if (auto attr = main->getAttrOfType<IntegerAttr>(RoseDialect::kTPAttrName))
    tp = attr.getInt();
  // The mesh: rose.mesh's axes, or one "tp" axis.
  std::vector<std::string> axes = {"tp"};
  std::vector<int64_t> sizes = {tp};
  if (MeshOp meshOp = MeshOp::find(main)) {
    axes.clear();
    for (Attribute a : meshOp.getAxes())
      axes.push_back(cast<StringAttr>(a).str());
    sizes.assign(meshOp.getSizes().begin(), meshOp.getSizes().end());
    if (meshOp.sizeOf("tp").value_or(1) != tp)
      return main.emitError() << "rose-compile: mesh @" << meshOp.getSymName()
                              << " disagrees with rose.tp = " << tp;
  }
  auto tpIndex = llvm::find(axes, "tp");
  ParamTable params(
      fbb, tpIndex == axes.end() ? 0 : int32_t(tpIndex - axes.begin()));
  Lowerer mainLowerer(fbb, params, tp, axes);
  mainLowerer.fuse = lowering.fuseEpilogues;
  auto mainFn = mainLowerer.lower(main, "forward");
  if (failed(mainFn))
    return failure();
  std::vector<flatbuffers::Offset<fb::Function>> functions = {*mainFn};
  if (dense) {
    Lowerer denseLowerer(fbb, params, 1, {});
    denseLowerer.fuse = lowering.fuseEpilogues;
    auto lowered = denseLowerer.lower(dense, "dense");
    if (failed(lowered))
      return failure();
    functions.push_back(*lowered);
  }
  if (mainLowerer.vocab <= 0)
    return main.emitError("rose-compile: no token embedding found");
  // Generation: prefill and decode over one KV cache. The same per-rank
  // function serves both (decode is called with one token per sequence);
  // two entries let a backend specialise decode.
  KvCache cache;
  std::string noGeneration;
  auto config =
      main->getAttrOfType<DictionaryAttr>(RoseDialect::kModelConfigAttrName);
  auto configInt = [&](StringRef key) -> int64_t {
    auto v = config ? config.getAs<IntegerAttr>(key) : IntegerAttr();
    return v ? v.getInt() : 0;
  };
  std::vector<int64_t> eos;
  if (auto ids =
          config ? config.getAs<DenseI64ArrayAttr>("eos_token_ids") : nullptr)
    eos.assign(ids.asArrayRef().begin(), ids.asArrayRef().end());
  if (generation) {
    cache.maxSeq = generation->maxSeq;
    if (!cache.maxSeq)
      cache.maxSeq = std::max(configInt("n_positions"),
                              configInt("max_position_embeddings"));
    if (cache.maxSeq <= 0)
      noGeneration = "the model does not say how many positions it has "
                     "(give --max-seq)";
    for (const char *name : {"prefill", "decode"}) {
      if (!noGeneration.empty())
        break;
      bool lastRow = StringRef(name) == "prefill";
      auto step =
          std::make_unique<Lowerer>(fbb, params, tp, axes, &cache, lastRow);
      step->fuse = lowering.fuseEpilogues;
      auto lowered = step->lower(main, name);
      if (failed(lowered) && step->lastRowFailed) {
        // The logits at every position, then: slower, as right.
        lastRow = false;
        step = std::make_unique<Lowerer>(fbb, params, tp, axes, &cache);
        step->fuse = lowering.fuseEpilogues;
        lowered = step->lower(main, name);
      }
      if (succeeded(lowered)) {
        functions.push_back(*lowered);
        if (stats && StringRef(name) == "prefill")
          stats->prefillLastRow = lastRow && step->slicedRows();
        if (stats && StringRef(name) == "decode")
          for (auto &[op, n] : step->collectives)
            stats->decodeCollectives +=
                (stats->decodeCollectives.empty() ? "" : ", ") +
                std::to_string(n) + " " + StringRef(op).drop_front(5).str();
        continue;
      }
      if (!step->refused)
        return failure();
      noGeneration = *step->refused;
      if (functions.size() > (dense ? 2u : 1u))
        functions.pop_back();
    }
    if (!noGeneration.empty()) {
      if (generation->required)
        return main.emitError()
               << "cannot generate with a KV cache: " << noGeneration;
      cache = KvCache();
    }
  }
  std::vector<flatbuffers::Offset<flatbuffers::String>> symbols = {
      fbb.CreateString("batch"), fbb.CreateString("seq")};
  std::vector<flatbuffers::Offset<fb::Buffer>> buffers;
  int64_t cacheBytes = 0;
  if (!cache.buffers.empty()) {
    symbols.push_back(fbb.CreateString("past"));
    for (const LoweredValue &b : cache.buffers) {
      std::vector<flatbuffers::Offset<fb::Dim>> dims;
      for (const AffineDim &d : b.shape)
        dims.push_back(lowerDim(fbb, d));
      buffers.push_back(
          fb::CreateBufferDirect(fbb, b.name.c_str(), b.type, &dims));
      cacheBytes += cache.maxSeq * b.shape[2].constant / b.shape[2].divisor *
                    int64_t(::rose::elementSize(b.type));
    }
  }
  std::vector<flatbuffers::Offset<fb::MeshAxis>> mesh;
  for (auto [axis, size] : llvm::zip(axes, sizes))
    mesh.push_back(fb::CreateMeshAxisDirect(fbb, axis.c_str(), size));
  std::string tokenizer =
      generation && !cache.buffers.empty() ? generation->tokenizer : "";
  auto program = fb::CreateProgramDirect(
      fbb, version ? version : ::rose::kProgramVersion,
      weightsPath.str().c_str(), mainLowerer.vocab, &symbols, &mesh,
      &params.params, &functions, buffers.empty() ? nullptr : &buffers,
      cache.buffers.empty() ? 0 : cache.maxSeq, eos.empty() ? nullptr : &eos,
      tokenizer.empty() ? nullptr : tokenizer.c_str());
  fb::FinishProgramBuffer(fbb, program);
  std::string bytes(reinterpret_cast<const char *>(fbb.GetBufferPointer()),
                    fbb.GetSize());
  if (version && version != ::rose::kProgramVersion)
    return bytes;
  // The compiler checks what it wrote with the runtime's own validator.
  ::rose::Status status = ::rose::Program::validate(
      fbb.GetBufferPointer(), fbb.GetSize(), "lowered program");
  if (!status.ok())
    return main.emitError() << "rose-compile: " << status.message();
  if (stats) {
    // The plan at batch 1 x seq 64 x (a multiple of tp), per token.
    // An 8-byte aligned copy: the builder's buffer need not be.
    std::vector<uint64_t> aligned((bytes.size() + 7) / 8);
    std::memcpy(aligned.data(), bytes.data(), bytes.size());
    const fb::Program *root = fb::GetProgram(aligned.data());
    ::rose::Entry entry{root, root->functions()->Get(0)};
    int64_t seq = 64 * tp;
    auto layout = ::rose::layoutCall(entry, 1, seq);
    if (!layout)
      return main.emitError() << "rose-compile: " << layout.status().message();
    stats->peakBytesPerToken = layout->arenaBytes / seq;
    stats->naiveBytesPerToken = layout->naiveBytes / seq;
    stats->ops = mainLowerer.numOps;
    stats->values = mainLowerer.numValues;
    stats->params = 0;
    for (bool used : entry.usedParams())
      stats->params += used;
    stats->maxSeq = cache.buffers.empty() ? 0 : cache.maxSeq;
    stats->cacheBytesPerSequence = cacheBytes;
    stats->noGeneration = noGeneration;
  }
  return bytes;
}
