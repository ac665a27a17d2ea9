//===- LowerAttributes.cpp - each op's typed attribute table --------------===//
#include "passes/Lowerer.h"
#include "passes/ShardingPlan.h"
#include "runtime/CheckedMath.h"

#include "llvm/ADT/TypeSwitch.h"

#include <numeric>

using namespace mlir;
using namespace mlir::rose;
using namespace mlir::rose::lowering;

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
      .Case([&](AllToAllOp a) -> FailureOr<Offset> {
        FailureOr<int32_t> axis = collectiveAxis(a);
        if (failed(axis))
          return failure();
        return set(
            fb::OpAttrs::AllToAll,
            fb::CreateAllToAll(fbb, *axis, a.getSplitDim(), a.getConcatDim()));
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
