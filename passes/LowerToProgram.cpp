//===- LowerToProgram.cpp - rose IR to a runtime program file -------------===//
//
// Lowers the SPMD @forward into the FlatBuffers program the runtime executes:
// ops in order with kernel parameters, params with their checkpoint slices,
// and a static memory plan. Every activation is [batch, seq, dims...], so its
// size is (bytes per token) * batch * seq; the plan assigns offsets in bytes
// per token with first-fit reuse of buffers whose last use has passed, and
// the runtime scales it by the token count.
//
//===----------------------------------------------------------------------===//
#include "passes/LowerToProgram.h"
#include "dialect/RoseOps.h"
#include "passes/ShardingPlan.h"
#include "runtime/CheckedMath.h"
#include "runtime/Program.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/TypeSwitch.h"

#include <map>

using namespace mlir;
using namespace mlir::rose;
namespace fb = ::rose::fb;

/// The most bytes per token one value may take (1 TiB): far above any
/// model, and small enough that the plan's sums stay exact.
static constexpr int64_t kMaxValueBytesPerToken = int64_t(1) << 40;

namespace {

FailureOr<fb::ElementType> elementType(Operation *op, Type type) {
  Type e = getElementTypeOrSelf(type);
  if (e.isF32())
    return fb::ElementType::F32;
  if (e.isF16())
    return fb::ElementType::F16;
  if (e.isBF16())
    return fb::ElementType::BF16;
  if (e.isInteger(64))
    return fb::ElementType::I64;
  if (e.isInteger(32))
    return fb::ElementType::I32;
  return op->emitError() << "rose-compile: unsupported element type " << e;
}

struct LoweredValue {
  std::string name;
  fb::ElementType type;
  std::vector<int64_t> dims; // after [batch, seq]
  int64_t bytes = 0, offset = 0;
  int64_t lastUse = -1;
};

struct LoweredOp {
  fb::OpKind kind;
  std::string layer;
  std::vector<fb::Operand> operands;
  std::vector<int32_t> results;
  std::vector<int64_t> ints;
  std::vector<double> floats;
};

class Lowerer {
public:
  Lowerer(flatbuffers::FlatBufferBuilder &fbb) : fbb(fbb) {}
  FailureOr<flatbuffers::Offset<fb::Function>> lower(ModuleOp module,
                                                     ProgramStats *stats);
  int64_t vocab = 0;

private:
  FailureOr<int32_t> defineValue(Value v, const std::string &name);
  FailureOr<fb::Operand> operand(Value v);
  LogicalResult lowerOp(Operation *op);
  LogicalResult planMemory(ModuleOp module, ProgramStats *stats);

  flatbuffers::FlatBufferBuilder &fbb;
  Value tokens;
  std::vector<LoweredValue> values;
  std::vector<LoweredOp> ops;
  std::vector<flatbuffers::Offset<fb::Param>> params;
  llvm::DenseMap<Value, int32_t> valueIds, paramIds;
  std::vector<int32_t> checkpoints;
  int64_t peak = 0;
};

} // namespace

FailureOr<int32_t> Lowerer::defineValue(Value v, const std::string &name) {
  auto type = cast<RankedTensorType>(v.getType());
  auto tokensType = cast<RankedTensorType>(tokens.getType());
  Operation *where =
      v.getDefiningOp() ? v.getDefiningOp() : v.getParentBlock()->getParentOp();
  // Activations are [batch, seq, ...] with the token tensor's batch and seq.
  if (type.getRank() < 2 || type.getDimSize(0) != tokensType.getDimSize(0) ||
      type.getDimSize(1) != tokensType.getDimSize(1))
    return where->emitError()
           << "rose-compile: value of type " << type
           << " is not [batch, seq, ...] like the tokens " << tokensType
           << " (sequence-parallel programs are not supported by the "
              "runtime yet)";
  FailureOr<fb::ElementType> et = elementType(where, type);
  if (failed(et))
    return failure();
  LoweredValue lv;
  lv.name = name;
  lv.type = *et;
  lv.bytes = ::rose::elementSize(*et);
  for (int64_t d : type.getShape().drop_front(2)) {
    if (ShapedType::isDynamic(d))
      return where->emitError() << "rose-compile: dynamic dim beyond batch "
                                   "and seq in "
                                << type;
    lv.dims.push_back(d);
    // Bounded so that the memory plan's sums of rounded sizes cannot
    // overflow either (see planMemory).
    std::optional<int64_t> bytes = ::rose::checkedMul(lv.bytes, d);
    if (!bytes || *bytes > kMaxValueBytesPerToken)
      return where->emitError()
             << "rose-compile: " << type << " takes more than "
             << kMaxValueBytesPerToken << " bytes per token";
    lv.bytes = *bytes;
  }
  int32_t id = values.size();
  values.push_back(std::move(lv));
  valueIds[v] = id;
  return id;
}

FailureOr<fb::Operand> Lowerer::operand(Value v) {
  if (auto it = valueIds.find(v); it != valueIds.end()) {
    values[it->second].lastUse = ops.size();
    return fb::Operand(it->second, -1);
  }
  auto param = v.getDefiningOp<ParamOp>();
  if (!param)
    return emitError(v.getLoc(), "rose-compile: operand defined by an "
                                 "unsupported op");
  if (auto it = paramIds.find(v); it != paramIds.end())
    return fb::Operand(-1, it->second);
  FailureOr<fb::ElementType> et = elementType(param, param.getType());
  if (failed(et))
    return failure();
  std::vector<int64_t> shape(param.getType().getShape().begin(),
                             param.getType().getShape().end());
  std::vector<int64_t> full = shape;
  int64_t dim = -1, parts = 1, groups = 1;
  if (WeightSliceAttr slice = param.getSliceAttr()) {
    full.assign(slice.getFull().begin(), slice.getFull().end());
    dim = slice.getDim();
    parts = slice.getParts();
    groups = slice.getGroups();
  }
  int32_t id = params.size();
  params.push_back(fb::CreateParamDirect(fbb, param.getName().str().c_str(),
                                         *et, &shape, &full, dim, parts,
                                         groups));
  paramIds[v] = id;
  return fb::Operand(-1, id);
}

LogicalResult Lowerer::lowerOp(Operation *op) {
  if (isa<ParamOp>(op))
    return success();
  LoweredOp lo;
  lo.layer = layerName(op);
  auto kind =
      llvm::TypeSwitch<Operation *, std::optional<fb::OpKind>>(op)
          .Case([&](EmbeddingOp e) {
            lo.ints = {static_cast<int64_t>(e.getVocabShards().value_or(0))};
            // The token embedding's checkpoint rows are the vocab.
            auto table = e.getTable().getDefiningOp<ParamOp>();
            if (isa<BlockArgument>(e.getIndices()) && table)
              vocab = table.getSliceAttr() ? table.getSliceAttr().getFull()[0]
                                           : table.getType().getDimSize(0);
            return fb::OpKind::Embedding;
          })
          .Case([&](PositionsOp p) {
            lo.ints = {static_cast<int64_t>(p.getOffset())};
            return fb::OpKind::Positions;
          })
          .Case([&](MatMulOp m) {
            if (m.getRhs().getType().getRank() != 2)
              return std::optional<fb::OpKind>();
            lo.ints = {m.getTransposeRhs() ? 1 : 0};
            return std::optional(fb::OpKind::MatMul);
          })
          .Case([&](AddOp) { return fb::OpKind::Add; })
          .Case([&](SubOp) { return fb::OpKind::Sub; })
          .Case([&](MulOp) { return fb::OpKind::Mul; })
          .Case([&](DivOp) { return fb::OpKind::Div; })
          .Case([&](LayerNormOp l) {
            lo.floats = {l.getEpsilon().convertToDouble()};
            return fb::OpKind::LayerNorm;
          })
          .Case([&](GeluOp g) {
            lo.ints = {g.getApproximation() == GeluApproximation::Tanh};
            return fb::OpKind::Gelu;
          })
          .Case([&](SoftmaxOp s) {
            int64_t rank = s.getType().getRank();
            lo.ints = {s.getAxis() < 0 ? s.getAxis() + rank : s.getAxis()};
            return fb::OpKind::Softmax;
          })
          .Case([&](AttentionOp a) {
            int64_t headDim = a.getType().getDimSize(2) / a.getNumHeads();
            lo.ints = {static_cast<int64_t>(a.getNumHeads()),
                       a.getCausal() ? 1 : 0};
            lo.floats = {a.getScale() ? a.getScale()->convertToDouble()
                                      : 1.0 / std::sqrt(double(headDim))};
            return fb::OpKind::Attention;
          })
          .Case([&](ReshapeOp) { return fb::OpKind::Reshape; })
          .Case([&](SplitOp s) {
            int64_t rank = s.getInput().getType().getRank();
            lo.ints = {s.getAxis() < 0 ? s.getAxis() + rank : s.getAxis()};
            lo.ints.insert(lo.ints.end(), s.getSizes().begin(),
                           s.getSizes().end());
            return fb::OpKind::Split;
          })
          .Case([&](ConcatOp c) {
            int64_t rank = c.getType().getRank();
            lo.ints = {c.getAxis() < 0 ? c.getAxis() + rank : c.getAxis()};
            return fb::OpKind::Concat;
          })
          .Case([&](SliceOp s) {
            int64_t rank = s.getType().getRank();
            lo.ints = {s.getAxis() < 0 ? s.getAxis() + rank : s.getAxis(),
                       s.getStart(), s.getEnd()};
            return fb::OpKind::Slice;
          })
          .Case([&](AllReduceOp) { return fb::OpKind::AllReduce; })
          .Case([&](AllGatherOp g) {
            lo.ints = {g.getDim()};
            return fb::OpKind::AllGather;
          })
          .Case([&](ReduceScatterOp r) {
            lo.ints = {r.getDim()};
            return fb::OpKind::ReduceScatter;
          })
          .Case([&](ShardSliceOp s) {
            lo.ints = {s.getDim()};
            return fb::OpKind::ShardSlice;
          })
          .Default([](Operation *) { return std::nullopt; });
  if (!kind)
    return op->emitError() << "rose-compile: '" << op->getName()
                           << "' is not supported by the runtime";
  // Ops that move data across [batch, seq] are not expressible (their
  // values would not be [batch, seq, ...]); defineValue rejects them.
  lo.kind = *kind;
  for (Value v : op->getOperands()) {
    FailureOr<fb::Operand> o = operand(v);
    if (failed(o))
      return failure();
    lo.operands.push_back(*o);
  }
  for (Value r : op->getResults()) {
    FailureOr<int32_t> id = defineValue(r, lo.layer);
    if (failed(id))
      return failure();
    lo.results.push_back(*id);
  }
  // The residual stream entering each LayerNorm of a block boundary is a
  // checkpoint for --check-against (replicated in every plan).
  if (auto ln = dyn_cast<LayerNormOp>(op)) {
    std::string layer = layerName(op);
    if (llvm::StringRef(layer).ends_with("ln_1") || layer == "ln_f") {
      int32_t id = valueIds.lookup(ln.getInput());
      if (valueIds.count(ln.getInput())) {
        values[id].name = blockName(layer) + " input";
        checkpoints.push_back(id);
      }
    }
  }
  ops.push_back(std::move(lo));
  return success();
}

LogicalResult Lowerer::planMemory(ModuleOp module, ProgramStats *stats) {
  // First-fit over free intervals, in op order; a value's buffer is freed
  // after its last use. The token input and the logits live throughout.
  std::map<int64_t, int64_t> freeList; // offset -> size
  int64_t end = 0;
  auto allocate = [&](int64_t size) {
    for (auto it = freeList.begin(); it != freeList.end(); ++it) {
      if (it->second < size)
        continue;
      int64_t offset = it->first, rest = it->second - size;
      freeList.erase(it);
      if (rest)
        freeList[offset + size] = rest;
      return offset;
    }
    int64_t offset = end;
    end += size;
    return offset;
  };
  auto release = [&](int64_t offset, int64_t size) {
    auto [it, _] = freeList.emplace(offset, size);
    auto next = std::next(it);
    if (next != freeList.end() && it->first + it->second == next->first) {
      it->second += next->second;
      freeList.erase(next);
    }
    if (it != freeList.begin()) {
      auto prev = std::prev(it);
      if (prev->first + prev->second == it->first) {
        prev->second += it->second;
        freeList.erase(it);
      }
    }
  };
  // Round sizes so every buffer stays 64-byte aligned for any token count.
  auto rounded = [](int64_t bytes) { return (bytes + 63) / 64 * 64; };
  // `naive` bounds every offset and end below, so checking it suffices.
  std::optional<int64_t> naiveSum = 0;
  for (LoweredValue &v : values)
    if (!(naiveSum = ::rose::checkedAdd(*naiveSum, rounded(v.bytes))))
      return module.emitError("rose-compile: the program's values take more "
                              "than 2^63 bytes per token");
  int64_t naive = *naiveSum;
  int32_t input = valueIds.lookup(tokens);
  values[input].offset = allocate(rounded(values[input].bytes));
  values[input].lastUse = ops.size();
  for (size_t i = 0; i < ops.size(); ++i) {
    for (int32_t r : ops[i].results) {
      LoweredValue &v = values[r];
      v.offset = allocate(rounded(v.bytes));
      if (v.lastUse < 0) // never used: free right after the op
        v.lastUse = i;
    }
    for (size_t id = 0; id < values.size(); ++id)
      if (values[id].lastUse == static_cast<int64_t>(i) &&
          static_cast<int32_t>(id) != input)
        release(values[id].offset, rounded(values[id].bytes));
  }
  peak = end;
  if (stats) {
    stats->peakBytesPerToken = peak;
    stats->naiveBytesPerToken = naive;
    stats->ops = ops.size();
    stats->values = values.size();
    stats->params = params.size();
  }
  return success();
}

FailureOr<flatbuffers::Offset<fb::Function>>
Lowerer::lower(ModuleOp module, ProgramStats *stats) {
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
  tokens = fn.getArgument(0);
  auto tokensType = dyn_cast<RankedTensorType>(tokens.getType());
  if (!tokensType || tokensType.getRank() != 2 ||
      !tokensType.getElementType().isInteger(64))
    return fn.emitError("rose-compile: the function must take int64 token ids "
                        "[batch, seq]");
  // The token ids are [batch, seq] with no dims after them.
  FailureOr<int32_t> input = defineValue(tokens, "tokens");
  if (failed(input))
    return failure();
  Operation *ret = fn.getBody().front().getTerminator();
  for (Operation &op : fn.getBody().front().without_terminator())
    if (failed(lowerOp(&op)))
      return failure();
  Value result = ret->getOperand(0);
  if (!valueIds.count(result))
    return ret->emitError("rose-compile: the result must be computed");
  int32_t output = valueIds.lookup(result);
  values[output].lastUse = ops.size();
  values[output].name = "logits";
  if (failed(planMemory(module, stats)))
    return failure();

  int64_t tp = 1;
  if (auto attr = module->getAttrOfType<IntegerAttr>(RoseDialect::kTPAttrName))
    tp = attr.getInt();
  std::vector<flatbuffers::Offset<fb::Value>> fbValues;
  for (const LoweredValue &v : values)
    fbValues.push_back(fb::CreateValueDirect(fbb, v.name.c_str(), v.type,
                                             &v.dims, v.bytes, v.offset));
  std::vector<flatbuffers::Offset<fb::Op>> fbOps;
  for (const LoweredOp &o : ops)
    fbOps.push_back(fb::CreateOpDirect(fbb, o.kind, o.layer.c_str(),
                                       &o.operands, &o.results, &o.ints,
                                       &o.floats));
  return fb::CreateFunctionDirect(fbb, tp, &params, &fbValues, &fbOps, *input,
                                  output, peak, &checkpoints);
}

FailureOr<std::string> mlir::rose::lowerToProgram(ModuleOp main, ModuleOp dense,
                                                  llvm::StringRef weightsPath,
                                                  ProgramStats *stats,
                                                  unsigned version) {
  flatbuffers::FlatBufferBuilder fbb;
  Lowerer mainLowerer(fbb);
  auto mainFn = mainLowerer.lower(main, stats);
  if (failed(mainFn))
    return failure();
  flatbuffers::Offset<fb::Function> denseFn;
  if (dense) {
    Lowerer denseLowerer(fbb);
    auto lowered = denseLowerer.lower(dense, nullptr);
    if (failed(lowered))
      return failure();
    denseFn = *lowered;
  }
  if (mainLowerer.vocab <= 0)
    return main.emitError("rose-compile: no token embedding found");
  auto program = fb::CreateProgramDirect(
      fbb, version ? version : ::rose::kProgramVersion,
      weightsPath.str().c_str(), mainLowerer.vocab, *mainFn, denseFn);
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
  return bytes;
}
