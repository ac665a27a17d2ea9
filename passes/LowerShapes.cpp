//===- LowerShapes.cpp - the symbolic shape of each lowered value ---------===//
//
// MLIR types say only `?` for a dynamic dim; the lowering derives what each
// one is, as an affine expression of the symbols `batch` and `seq` (and
// `past` in generation steps), from the token ids through every op.
//
//===----------------------------------------------------------------------===//
#include "passes/Lowerer.h"
#include "passes/ShardingPlan.h"
#include "runtime/CheckedMath.h"

#include "llvm/ADT/TypeSwitch.h"

#include <numeric>

using namespace mlir;
using namespace mlir::rose;
using namespace mlir::rose::lowering;

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
  // (dim, x) or (dim, -/): collectives scale the exchanged dims.
  SmallVector<std::pair<int64_t, int64_t>, 2> scaleDims;
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
        scaleDims = {{g.getDim(), static_cast<int64_t>(g.getGroupSize())}};
      })
      .Case([&](AllToAllOp a) {
        alignRight(a.getInput());
        int64_t n = static_cast<int64_t>(a.getGroupSize());
        scaleDims = {{a.getSplitDim(), -n}, {a.getConcatDim(), n}};
      })
      .Case([&](ReduceScatterOp r) {
        alignRight(r.getInput());
        scaleDims = {{r.getDim(), -static_cast<int64_t>(r.getGroupSize())}};
      })
      .Case([&](ShardSliceOp s) {
        alignRight(s.getInput());
        scaleDims = {{s.getDim(), -static_cast<int64_t>(s.getGroupSize())}};
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
  for (auto [dim, k] : scaleDims) {
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
