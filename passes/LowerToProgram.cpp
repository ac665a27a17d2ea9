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
namespace fb = ::rose::fb;

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

int64_t normalizedAxis(int64_t axis, int64_t rank) {
  return axis < 0 ? axis + rank : axis;
}

/// Params shared by the program's entry points, deduplicated.
struct ParamTable {
  ParamTable(flatbuffers::FlatBufferBuilder &fbb, int32_t sliceAxis)
      : fbb(fbb), sliceAxis(sliceAxis) {}
  flatbuffers::FlatBufferBuilder &fbb;
  int32_t sliceAxis; // the mesh axis params are sliced over (tp)
  std::vector<flatbuffers::Offset<fb::Param>> params;
  std::map<std::string, int32_t> ids; // by name + shape + slice
  llvm::DenseMap<Operation *, int32_t> constants;

  FailureOr<int32_t> get(ParamOp param);
  /// A float constant, its values stored in the program.
  FailureOr<int32_t> get(ConstantOp constant);
};

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

struct LoweredValue {
  std::string name;
  fb::ElementType type;
  AffineShape shape;
  int32_t buffer = -1; // a persistent buffer (the KV cache)
};

flatbuffers::Offset<fb::Dim> lowerDim(flatbuffers::FlatBufferBuilder &fbb,
                                      const AffineDim &d) {
  std::vector<fb::Term> terms;
  for (int s = 0; s < kNumSymbols; ++s)
    if (d.coeff[s])
      terms.emplace_back(s, d.coeff[s]);
  return fb::CreateDimDirect(fbb, d.constant, &terms, d.divisor);
}

/// The KV cache the generation entries share: two buffers per attention op
/// (its k and v), in program order, [batch, max_seq, the rank's k/v
/// columns].
struct KvCache {
  int64_t maxSeq = 0;
  std::vector<LoweredValue> buffers;
};

class Lowerer {
public:
  /// With `cache`, lowers a generation step: the token ids are the new
  /// tokens, each attention writes its k and v into the cache at `past`
  /// and attends to the past + seq rows there, positions start at `past`.
  /// With `lastRowOnly` too (the prefill entry), the ops after the last
  /// attention that lead only to the logits run on each sequence's last
  /// position: generation needs no other logits.
  Lowerer(flatbuffers::FlatBufferBuilder &fbb, ParamTable &params, int64_t tp,
          std::vector<std::string> mesh, KvCache *cache = nullptr,
          bool lastRowOnly = false)
      : fbb(fbb), params(params), tp(tp), mesh(std::move(mesh)), cache(cache),
        lastRowOnly(lastRowOnly) {}
  FailureOr<flatbuffers::Offset<fb::Function>> lower(ModuleOp module,
                                                     StringRef name);
  int64_t vocab = 0;
  int64_t numOps = 0, numValues = 0;
  /// Fuse a matmul's only-user GELU into it (LoweringOptions).
  bool fuse = true;
  /// Collectives lowered, by op name ("rose.all_reduce": 4).
  std::map<std::string, int64_t> collectives;

private:
  FailureOr<int32_t> defineValue(Value v, const std::string &name,
                                 AffineShape shape);
  FailureOr<fb::Operand> operand(Value v);
  FailureOr<AffineShape> resultShape(Operation *op, Value result,
                                     unsigned index);
  FailureOr<flatbuffers::Offset<void>> attributes(Operation *op,
                                                  fb::OpAttrs &kind);
  LogicalResult lowerOp(Operation *op);
  LogicalResult lowerCachedAttention(AttentionOp op, fb::Operand q,
                                     std::array<fb::Operand, 2> kv,
                                     int32_t result, const std::string &layer);
  /// Generation is impossible because of `op`: records why and fails.
  LogicalResult refuse(Operation *op, const std::string &why) {
    std::string layer = layerName(op);
    refused = (layer.empty() ? "" : "'" + layer + "': ") + why;
    return failure();
  }

  /// The last row along seq of `v` (a value of the call), sliced once.
  FailureOr<int32_t> lastRow(Value v);

public:
  /// Why this function cannot be a generation step (set when lower()
  /// failed for that reason and emitted nothing).
  std::optional<std::string> refused;
  /// lastRowOnly could not slice a value (its seq dim is not one whole
  /// dim) or shape the tail: lower again without it.
  bool lastRowFailed = false;
  /// Values cut to their last row (0: the tail was empty).
  size_t slicedRows() const { return lastRows.size(); }

private:
  flatbuffers::FlatBufferBuilder &fbb;
  ParamTable &params;
  int64_t tp;
  std::vector<std::string> mesh; // axis names, in mesh order
  /// Index of a mesh axis, or -1.
  int32_t axisIndex(llvm::StringRef axis) const {
    auto it = llvm::find(mesh, axis.str());
    return it == mesh.end() ? -1 : static_cast<int32_t>(it - mesh.begin());
  }
  FailureOr<int32_t> collectiveAxis(Operation *op);
  std::vector<LoweredValue> values;
  std::vector<flatbuffers::Offset<fb::Op>> ops;
  llvm::DenseMap<Value, int32_t> valueIds;
  std::vector<int32_t> checkpoints;
  KvCache *cache;
  size_t attentions = 0; // attention ops lowered so far (cache buffer pairs)
  bool lastRowOnly;
  /// Ops every use of which leads to the result without passing an
  /// attention: token-local (the cache lowering refuses any other op) and,
  /// but for positions, functions of their inputs' rows alone, so the
  /// result's last row needs only their inputs' last rows.
  llvm::DenseSet<Operation *> tail;
  llvm::DenseMap<Value, int32_t> lastRows;
  /// Ops fused into the op that defines their operand (a matmul's GELU
  /// epilogue), with that operand.
  llvm::DenseMap<Operation *, Value> fusedInto;
};

} // namespace

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

/// The shape of `result`: static dims from its type; each dynamic dim
/// derived from the operands by what the op does to it.
FailureOr<AffineShape> Lowerer::resultShape(Operation *op, Value result,
                                            unsigned index) {
  auto type = cast<RankedTensorType>(result.getType());
  int64_t rank = type.getRank();
  auto shapeOf = [&](Value v) -> const AffineShape * {
    if (tail.contains(op))
      if (auto row = lastRows.find(v); row != lastRows.end())
        return &values[row->second].shape;
    auto it = valueIds.find(v);
    return it == valueIds.end() ? nullptr : &values[it->second].shape;
  };
  // Where each result dim comes from: (operand shape, its dim), then an
  // optional multiplier/divisor (collectives).
  AffineShape out(rank);
  std::vector<bool> known(rank, false);
  for (int64_t d = 0; d < rank; ++d)
    if (!type.isDynamicDim(d)) {
      out[d] = AffineDim::known(type.getDimSize(d));
      known[d] = true;
    }
  auto copyFrom = [&](const AffineShape *src, int64_t from, int64_t to) {
    if (src && from >= 0 && from < static_cast<int64_t>(src->size()) &&
        to >= 0 && to < rank && !known[to]) {
      out[to] = (*src)[from];
      known[to] = true;
    }
  };
  // Same-position dims, right-aligned (broadcasting operands align right).
  auto alignRight = [&](Value v) {
    const AffineShape *src = shapeOf(v);
    if (!src)
      return;
    int64_t offset = static_cast<int64_t>(src->size()) - rank;
    for (int64_t d = 0; d < rank; ++d)
      if (d + offset >= 0 && !(*src)[d + offset].isOne())
        copyFrom(src, d + offset, d);
  };
  // Leading dims in place (an embedding appends its row to the ids' dims).
  auto alignLeft = [&](Value v) {
    const AffineShape *src = shapeOf(v);
    for (int64_t d = 0; src && d < rank; ++d)
      copyFrom(src, d, d);
  };
  std::optional<std::pair<int64_t, int64_t>> scaleDim; // (dim, x) or (dim, -/)
  llvm::TypeSwitch<Operation *>(op)
      .Case([&](EmbeddingOp e) { alignLeft(e.getIndices()); })
      .Case([&](PositionsOp p) { alignLeft(p.getInput()); })
      .Case([&](IotaOp i) {
        const AffineShape *ref = shapeOf(i.getRef());
        copyFrom(ref, ref ? normalizedAxis(i.getDim(), ref->size()) : -1, 0);
      })
      .Case([&](FillOp f) {
        const AffineShape *ref = shapeOf(f.getRef());
        for (auto [d, from] : llvm::enumerate(f.getDims()))
          if (from >= 0)
            copyFrom(ref, from, d);
      })
      .Case([&](GatherOp g) {
        // input[:axis] + indices + input[axis + 1:].
        // A param or constant input has static dims (null shape here).
        const AffineShape *in = shapeOf(g.getInput()),
                          *idx = shapeOf(g.getIndices());
        int64_t inRank = g.getInput().getType().getRank(),
                axis = normalizedAxis(g.getAxis(), inRank),
                n = g.getIndices().getType().getRank();
        for (int64_t d = 0; d < axis; ++d)
          copyFrom(in, d, d);
        for (int64_t d = 0; d < n; ++d)
          copyFrom(idx, d, axis + d);
        for (int64_t d = axis + 1; d < inRank; ++d)
          copyFrom(in, d, d + n - 1);
      })
      .Case([&](MatMulOp m) {
        // Batch dims broadcast (right-aligned before the matrix dims); rows
        // from lhs, columns from rhs.
        const AffineShape *lhs = shapeOf(m.getLhs()),
                          *rhs = shapeOf(m.getRhs());
        for (const AffineShape *src : {lhs, rhs}) {
          if (!src)
            continue;
          int64_t offset = static_cast<int64_t>(src->size()) - rank;
          for (int64_t d = 0; d + 2 < rank; ++d)
            if (d + offset >= 0 && !(*src)[d + offset].isOne())
              copyFrom(src, d + offset, d);
        }
        copyFrom(lhs, lhs ? lhs->size() - 2 : -1, rank - 2);
        if (rhs)
          copyFrom(rhs, rhs->size() - (m.getTransposeRhs() ? 2 : 1), rank - 1);
      })
      .Case([&](ReshapeOp r) {
        // A 0 in the spec copies the input dim at that position; a -1 is
        // the element count over the other dims' when that is affine: the
        // output's dynamic dims cancel equal input dims, and what is left
        // is one dynamic dim scaled by static sizes ([S, S] -> [1, S, -1]).
        const AffineShape *src = shapeOf(r.getInput());
        for (auto [d, s] : llvm::enumerate(r.getShape()))
          if (s == 0)
            copyFrom(src, d, d);
        auto spec = r.getShape();
        auto infer = llvm::find(spec, -1);
        if (!src || infer == spec.end() || known[infer - spec.begin()])
          return;
        AffineShape rest = *src;
        int64_t staticOut = 1;
        for (auto [d, s] : llvm::enumerate(spec))
          if (d != size_t(infer - spec.begin())) {
            if (!known[d])
              return;
            if (out[d].isStatic()) {
              staticOut *= out[d].constant / out[d].divisor;
              continue;
            }
            auto same = llvm::find(rest, out[d]);
            if (same == rest.end())
              return;
            rest.erase(same);
          }
        std::optional<AffineDim> count = AffineDim::known(1);
        for (const AffineDim &d : rest) {
          if (!count)
            return;
          if (d.isStatic())
            count = count->times(d.constant / d.divisor);
          else if (count->isStatic())
            count = d.times(count->constant / count->divisor);
          else
            return; // a product of two symbols
        }
        if (count && staticOut > 0)
          if (std::optional<AffineDim> q = count->dividedBy(staticOut)) {
            out[infer - spec.begin()] = *q;
            known[infer - spec.begin()] = true;
          }
      })
      .Case([&](TransposeOp t) {
        const AffineShape *src = shapeOf(t.getInput());
        for (auto [d, p] : llvm::enumerate(t.getPermutation()))
          copyFrom(src, p, d);
      })
      .Case([&](AllGatherOp g) {
        alignRight(g.getInput());
        scaleDim = {{g.getDim(), static_cast<int64_t>(g.getGroupSize())}};
      })
      .Case([&](ReduceScatterOp r) {
        alignRight(r.getInput());
        scaleDim = {{r.getDim(), -static_cast<int64_t>(r.getGroupSize())}};
      })
      .Case([&](ShardSliceOp s) {
        alignRight(s.getInput());
        scaleDim = {{s.getDim(), -static_cast<int64_t>(s.getGroupSize())}};
      })
      .Default([&](Operation *) {
        // Elementwise, norms, softmax, attention, split/slice/concat and
        // all_reduce keep their operands' dynamic dims in place.
        for (Value v : op->getOperands())
          alignRight(v);
      });
  // In the last-row tail, a dim every operand has as 1 (the sliced seq
  // dim; broadcasting skips 1s above) is 1.
  if (tail.contains(op))
    for (int64_t d = 0; d < rank; ++d) {
      if (known[d])
        continue;
      bool ones = false, others = false;
      for (Value v : op->getOperands())
        if (const AffineShape *src = shapeOf(v)) {
          int64_t at = d + static_cast<int64_t>(src->size()) - rank;
          if (at >= 0)
            ((*src)[at].isOne() ? ones : others) = true;
        }
      if (ones && !others) {
        out[d] = AffineDim::known(1);
        known[d] = true;
      }
    }
  if (scaleDim) {
    auto [dim, k] = *scaleDim;
    const AffineDim &src = out[dim];
    if (type.isDynamicDim(dim)) {
      std::optional<AffineDim> scaled =
          k > 0 ? src.times(k) : src.dividedBy(-k);
      if (!scaled)
        return op->emitError("rose-compile: dim ") << dim << " overflows";
      out[dim] = *scaled;
    }
  }
  for (int64_t d = 0; d < rank; ++d)
    if (!known[d]) {
      // In the last-row tail: lower again with every position.
      if (tail.contains(op)) {
        lastRowFailed = true;
        return failure();
      }
      return op->emitError("rose-compile: cannot tell what dynamic dim ")
             << d << " of result #" << index << " (" << type
             << ") is in terms of batch and seq";
    }
  return out;
}

/// The op's typed attribute table; sets `kind`.
FailureOr<flatbuffers::Offset<void>> Lowerer::attributes(Operation *op,
                                                         fb::OpAttrs &kind) {
  using Offset = flatbuffers::Offset<void>;
  auto set = [&](fb::OpAttrs k, auto offset) -> FailureOr<Offset> {
    kind = k;
    return offset.Union();
  };
  return llvm::TypeSwitch<Operation *, FailureOr<Offset>>(op)
      .Case([&](EmbeddingOp e) {
        // The token embedding's checkpoint rows are the vocab.
        auto table = e.getTable().getDefiningOp<ParamOp>();
        if (isa<BlockArgument>(e.getIndices()) && table)
          vocab = table.getSliceAttr() ? table.getSliceAttr().getFull()[0]
                                       : table.getType().getDimSize(0);
        return set(fb::OpAttrs::Embedding,
                   fb::CreateEmbedding(fbb, e.getVocabShards().value_or(0),
                                       std::max(axisIndex("tp"), 0)));
      })
      .Case([&](PositionsOp p) {
        // Generating, positions continue after the cached tokens.
        flatbuffers::Offset<fb::Dim> shift;
        if (cache)
          shift = lowerDim(fbb, AffineDim::symbol(kPast));
        return set(fb::OpAttrs::Positions,
                   fb::CreatePositions(fbb, p.getOffset(), shift));
      })
      .Case([&](IotaOp) { return set(fb::OpAttrs::Iota, fb::CreateIota(fbb)); })
      .Case([&](CastOp) { return set(fb::OpAttrs::Cast, fb::CreateCast(fbb)); })
      .Case([&](FillOp f) {
        return set(fb::OpAttrs::Fill,
                   fb::CreateFill(fbb, f.getValue().convertToDouble()));
      })
      .Case([&](TriluOp t) {
        return set(fb::OpAttrs::Trilu,
                   fb::CreateTrilu(fbb, t.getK(), t.getUpper()));
      })
      .Case([&](GatherOp g) {
        return set(fb::OpAttrs::Gather,
                   fb::CreateGather(
                       fbb, normalizedAxis(g.getAxis(),
                                           g.getInput().getType().getRank())));
      })
      .Case([&](MatMulOp m) -> FailureOr<Offset> {
        // A param rhs must be 2-D; a value rhs may carry batch dims.
        bool stored = m.getRhs().getDefiningOp<ParamOp>() ||
                      m.getRhs().getDefiningOp<ConstantOp>();
        if (stored && m.getRhs().getType().getRank() != 2)
          return op->emitError("rose-compile: matmul with a rank-")
                 << m.getRhs().getType().getRank()
                 << " weight is not supported by the runtime";
        if (!stored && m.getBias())
          return op->emitError("rose-compile: matmul of two activations "
                               "with a bias is not supported by the runtime");
        // A GELU that is the product's only user runs on it in the GEMM's
        // column blocks (while they are in cache); the GELU op is dropped.
        fb::Epilogue epilogue = fb::Epilogue::None;
        if (fuse && m->hasOneUse())
          if (auto gelu = dyn_cast<GeluOp>(*m->getUsers().begin())) {
            epilogue = gelu.getApproximation() == GeluApproximation::Tanh
                           ? fb::Epilogue::GeluTanh
                           : fb::Epilogue::GeluErf;
            fusedInto[gelu] = m.getResult();
          }
        return set(fb::OpAttrs::MatMul,
                   fb::CreateMatMul(fbb, m.getTransposeRhs(), epilogue));
      })
      .Case([&](AddOp) { return set(fb::OpAttrs::Add, fb::CreateAdd(fbb)); })
      .Case([&](SubOp) { return set(fb::OpAttrs::Sub, fb::CreateSub(fbb)); })
      .Case([&](MulOp) { return set(fb::OpAttrs::Mul, fb::CreateMul(fbb)); })
      .Case([&](DivOp) { return set(fb::OpAttrs::Div, fb::CreateDiv(fbb)); })
      .Case([&](PowOp) { return set(fb::OpAttrs::Pow, fb::CreatePow(fbb)); })
      .Case([&](MaxOp) { return set(fb::OpAttrs::Max, fb::CreateMax(fbb)); })
      .Case([&](MinOp) { return set(fb::OpAttrs::Min, fb::CreateMin(fbb)); })
      .Case([&](EqualOp) {
        return set(fb::OpAttrs::Equal, fb::CreateEqual(fbb));
      })
      .Case([&](LessOp) { return set(fb::OpAttrs::Less, fb::CreateLess(fbb)); })
      .Case([&](GreaterOp) {
        return set(fb::OpAttrs::Greater, fb::CreateGreater(fbb));
      })
      .Case([&](WhereOp) {
        return set(fb::OpAttrs::Where, fb::CreateWhere(fbb));
      })
      .Case([&](ReduceOp r) {
        fb::ReduceFn fn = r.getKind() == ReduceKind::Sum    ? fb::ReduceFn::Sum
                          : r.getKind() == ReduceKind::Mean ? fb::ReduceFn::Mean
                                                            : fb::ReduceFn::Max;
        return set(
            fb::OpAttrs::Reduce,
            fb::CreateReduce(
                fbb, fn, normalizedAxis(r.getAxis(), r.getType().getRank())));
      })
      .Case<ReluOp, SiluOp, NegOp, ExpOp, SqrtOp, ReciprocalOp, TanhOp, ErfOp,
            SigmoidOp, NotOp, CosOp, SinOp>([&](Operation *u) {
        fb::UnaryFn fn =
            llvm::TypeSwitch<Operation *, fb::UnaryFn>(u)
                .Case([](ReluOp) { return fb::UnaryFn::Relu; })
                .Case([](SiluOp) { return fb::UnaryFn::Silu; })
                .Case([](NegOp) { return fb::UnaryFn::Neg; })
                .Case([](ExpOp) { return fb::UnaryFn::Exp; })
                .Case([](SqrtOp) { return fb::UnaryFn::Sqrt; })
                .Case([](ReciprocalOp) { return fb::UnaryFn::Reciprocal; })
                .Case([](TanhOp) { return fb::UnaryFn::Tanh; })
                .Case([](ErfOp) { return fb::UnaryFn::Erf; })
                .Case([](SigmoidOp) { return fb::UnaryFn::Sigmoid; })
                .Case([](CosOp) { return fb::UnaryFn::Cos; })
                .Case([](SinOp) { return fb::UnaryFn::Sin; })
                .Default([](Operation *) { return fb::UnaryFn::Not; });
        return set(fb::OpAttrs::Unary, fb::CreateUnary(fbb, fn).Union());
      })
      .Case([&](LayerNormOp l) {
        return set(fb::OpAttrs::LayerNorm,
                   fb::CreateLayerNorm(fbb, l.getEpsilon().convertToDouble()));
      })
      .Case([&](RmsNormOp l) {
        return set(fb::OpAttrs::RmsNorm,
                   fb::CreateRmsNorm(fbb, l.getEpsilon().convertToDouble()));
      })
      .Case([&](RotaryOp r) {
        std::vector<float> freqs(r.getInvFreq().begin(), r.getInvFreq().end());
        return set(fb::OpAttrs::Rotary,
                   fb::CreateRotaryDirect(fbb, r.getNumHeads(),
                                          r.getInterleaved(), &freqs));
      })
      .Case([&](GeluOp g) {
        return set(fb::OpAttrs::Gelu,
                   fb::CreateGelu(fbb, g.getApproximation() ==
                                           GeluApproximation::Tanh));
      })
      .Case([&](SoftmaxOp s) {
        return set(
            fb::OpAttrs::Softmax,
            fb::CreateSoftmax(
                fbb, normalizedAxis(s.getAxis(), s.getType().getRank())));
      })
      .Case([&](AttentionOp a) {
        int64_t headDim = a.getType().getDimSize(2) / a.getNumHeads();
        double scale = a.getScale() ? a.getScale()->convertToDouble()
                                    : 1.0 / std::sqrt(double(headDim));
        return set(fb::OpAttrs::Attention,
                   fb::CreateAttention(fbb, a.getNumHeads(), a.getCausal(),
                                       scale, a.getNumKvHeads(),
                                       a.getWindow().value_or(0)));
      })
      .Case([&](ReshapeOp) {
        return set(fb::OpAttrs::Reshape, fb::CreateReshape(fbb));
      })
      .Case([&](TransposeOp t) {
        std::vector<int32_t> perm(t.getPermutation().begin(),
                                  t.getPermutation().end());
        return set(fb::OpAttrs::Transpose,
                   fb::CreateTransposeDirect(fbb, &perm));
      })
      .Case([&](SplitOp s) {
        std::vector<int64_t> sizes(s.getSizes().begin(), s.getSizes().end());
        return set(
            fb::OpAttrs::Split,
            fb::CreateSplitDirect(
                fbb,
                normalizedAxis(s.getAxis(), s.getInput().getType().getRank()),
                &sizes));
      })
      .Case([&](ConcatOp c) {
        return set(
            fb::OpAttrs::Concat,
            fb::CreateConcat(
                fbb, normalizedAxis(c.getAxis(), c.getType().getRank())));
      })
      .Case([&](SliceOp s) {
        return set(fb::OpAttrs::Slice,
                   fb::CreateSlice(
                       fbb, normalizedAxis(s.getAxis(), s.getType().getRank()),
                       s.getStart(), s.getEnd()));
      })
      .Case([&](AllReduceOp r) -> FailureOr<Offset> {
        FailureOr<int32_t> axis = collectiveAxis(r);
        if (failed(axis))
          return failure();
        return set(fb::OpAttrs::AllReduce, fb::CreateAllReduce(fbb, *axis));
      })
      .Case([&](AllGatherOp g) -> FailureOr<Offset> {
        FailureOr<int32_t> axis = collectiveAxis(g);
        if (failed(axis))
          return failure();
        return set(fb::OpAttrs::AllGather,
                   fb::CreateAllGather(fbb, *axis, g.getDim()));
      })
      .Case([&](ReduceScatterOp r) -> FailureOr<Offset> {
        FailureOr<int32_t> axis = collectiveAxis(r);
        if (failed(axis))
          return failure();
        return set(fb::OpAttrs::ReduceScatter,
                   fb::CreateReduceScatter(fbb, *axis, r.getDim()));
      })
      .Case([&](ShardSliceOp s) -> FailureOr<Offset> {
        FailureOr<int32_t> axis = collectiveAxis(s);
        if (failed(axis))
          return failure();
        return set(fb::OpAttrs::ShardSlice,
                   fb::CreateShardSlice(fbb, *axis, s.getDim()));
      })
      .Default([&](Operation *) -> FailureOr<Offset> {
        return op->emitError() << "rose-compile: '" << op->getName()
                               << "' is not supported by the runtime";
      });
}

FailureOr<int32_t> Lowerer::collectiveAxis(Operation *op) {
  StringRef axis = op->getAttrOfType<StringAttr>("axis").getValue();
  int32_t index = axisIndex(axis);
  if (index < 0)
    return op->emitError() << "rose-compile: collective over '" << axis
                           << "', which is not a mesh axis";
  return index;
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
  if (isa<AllReduceOp, AllGatherOp, ReduceScatterOp, ShardSliceOp>(op))
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
