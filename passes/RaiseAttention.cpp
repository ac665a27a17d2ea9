//===- RaiseAttention.cpp - attention, rotary embeddings, repeat_kv -------===//
//
// The attention side of --rose-raise: heads split from [batch, seq, heads *
// dim] by reshape + transpose, grouped-query attention's repeat_kv (expand +
// reshape), causal masks (a where or an additive mask, proven by evaluating
// them), and rotary embeddings applied by rotate_half with cos/sin tables
// (proven to be the angles of the positions by evaluating the tables).
//
//===----------------------------------------------------------------------===//
#include "passes/RaiseEval.h"
#include "passes/RaisePatterns.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

using namespace mlir;
using namespace mlir::rose;
using namespace mlir::rose::raise;

namespace {

/// matmul(a, transpose(b)) with the transpose swapping b's last two dims:
/// the matmul reads b transposed instead.
} // namespace

bool mlir::rose::raise::foldTranspose(MatMulOp m) {
  auto t = m.getRhs().getDefiningOp<TransposeOp>();
  if (!t)
    return false;
  ArrayRef<int64_t> perm = t.getPermutation();
  int64_t rank = perm.size();
  if (rank < 2)
    return false;
  for (int64_t d = 0; d + 2 < rank; ++d)
    if (perm[d] != d)
      return false;
  if (perm[rank - 2] != rank - 1 || perm[rank - 1] != rank - 2)
    return false;
  m.getRhsMutable().assign(t.getInput());
  m.setTransposeRhs(!m.getTransposeRhs());
  return true;
}

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

namespace {

/// x [B, S, H * D] seen per head: transpose(reshape(x, [B, S, H, D]),
/// [0, 2, 1, 3]) -> [B, H, S, D]. `keysLast`: perm [0, 2, 3, 1] instead,
/// [B, H, D, S].
struct HeadsView {
  Value packed; // [B, S, H * D]
  int64_t heads = 0, headDim = 0;
};

std::optional<HeadsView> headsView(Value v, bool keysLast) {
  auto t = v.getDefiningOp<TransposeOp>();
  if (!t)
    return std::nullopt;
  SmallVector<int64_t> want = keysLast ? SmallVector<int64_t>{0, 2, 3, 1}
                                       : SmallVector<int64_t>{0, 2, 1, 3};
  if (t.getPermutation() != ArrayRef<int64_t>(want))
    return std::nullopt;
  auto r = t.getInput().getDefiningOp<ReshapeOp>();
  if (!r)
    return std::nullopt;
  auto in = cast<RankedTensorType>(r.getInput().getType());
  auto out = cast<RankedTensorType>(r.getType());
  ArrayRef<int64_t> spec = r.getShape();
  if (in.getRank() != 3 || out.getRank() != 4 || spec.size() != 4)
    return std::nullopt;
  // Batch and sequence carried over (copied with 0, or equal and static).
  for (int64_t d = 0; d < 2; ++d)
    if (spec[d] != 0 && (in.isDynamicDim(d) || spec[d] != in.getDimSize(d)))
      return std::nullopt;
  int64_t heads = out.getDimSize(2), dim = out.getDimSize(3);
  if (ShapedType::isDynamic(heads) || ShapedType::isDynamic(dim) ||
      in.isDynamicDim(2) || heads * dim != in.getDimSize(2))
    return std::nullopt;
  return HeadsView{r.getInput(), heads, dim};
}

/// `mask` evaluated at every sequence length tried is [..., seq, seq] and
/// `fits(value, masked)` holds for each entry, masked meaning j > i; at
/// least three lengths evaluate (a mask buffer may be shorter than some).
bool holdsCausally(Value mask, llvm::function_ref<bool(double, bool)> fits) {
  int checked = 0;
  for (int64_t seq : {1, 2, 3, 5, 8, 13, 32, 64, 128}) {
    ShapeEvaluator eval(seq);
    std::optional<EvalArray> m = eval.evaluate(mask);
    if (!m)
      continue;
    size_t rank = m->shape.size();
    if (rank < 2 || m->shape[rank - 1] != seq || m->shape[rank - 2] != seq)
      return false;
    for (size_t e = 0; e < m->data.size(); ++e) {
      int64_t i = (e / seq) % seq, j = e % seq;
      if (!fits(m->data[e], j > i))
        return false;
    }
    ++checked;
  }
  return checked >= 3;
}

/// The mask's condition is j > i (`conditionMasks`: where true, the scores
/// are replaced) or j <= i (kept).
bool isCausal(Value condition, bool conditionMasks) {
  return holdsCausally(condition, [&](double v, bool masked) {
    return ((v != 0.0) == conditionMasks) == masked;
  });
}

/// The additive mask is 0 where j <= i and -inf or the float minimum
/// (<= -1e30) where j > i. Added to scores, the masked entries'
/// exponentials are then exactly 0: a causal mask.
bool isAdditiveCausal(Value mask) {
  return holdsCausally(mask, [](double v, bool masked) {
    return masked ? v <= -1e30 : v == 0.0;
  });
}

/// Grouped-query attention's repeat_kv on [B, KV, S, D]: unsqueezed to
/// [B, KV, 1, S, D], expanded (a where on a fill of ones) to [B, KV, R, S,
/// D] and merged to [B, KV * R, S, D]. Returns the [B, KV, S, D] value and R;
/// a value not repeated is itself with R = 1.
std::pair<Value, int64_t> repeatedKv(Value v) {
  auto merge = v.getDefiningOp<ReshapeOp>();
  auto w = merge ? merge.getInput().getDefiningOp<WhereOp>() : WhereOp();
  auto fill = w ? w.getCondition().getDefiningOp<FillOp>() : FillOp();
  auto unsq = w && w.getLhs() == w.getRhs()
                  ? w.getLhs().getDefiningOp<ReshapeOp>()
                  : ReshapeOp();
  if (!fill || fill.getValue().convertToDouble() == 0.0 || !unsq)
    return {v, 1};
  auto x = cast<RankedTensorType>(unsq.getInput().getType());
  auto u = cast<RankedTensorType>(unsq.getType());
  auto e = cast<RankedTensorType>(w.getType());
  auto out = cast<RankedTensorType>(merge.getType());
  if (x.getRank() != 4 || u.getRank() != 5 || e.getRank() != 5 ||
      out.getRank() != 4 || u.getDimSize(2) != 1 || e.isDynamicDim(2) ||
      x.isDynamicDim(1) || x.isDynamicDim(3))
    return {v, 1};
  int64_t kv = x.getDimSize(1), r = e.getDimSize(2), d = x.getDimSize(3);
  // The unsqueeze: batch copied, a 1 inserted, seq the one inferred dim.
  ArrayRef<int64_t> us = unsq.getShape(), ms = merge.getShape();
  bool batchKept = [&](int64_t s) {
    return s == 0 || (!x.isDynamicDim(0) && s == x.getDimSize(0));
  }(us[0]);
  if (us.size() != 5 || !batchKept || us[1] != kv || us[2] != 1 || us[4] != d ||
      (us[3] != -1 && (x.isDynamicDim(2) || us[3] != x.getDimSize(2))))
    return {v, 1};
  // The expand changes only the inserted dim.
  for (int64_t i : {0, 1, 3, 4})
    if (e.getDimSize(i) != u.getDimSize(i))
      return {v, 1};
  // The merge: batch copied, KV x R heads, seq inferred, D.
  if (ms.size() != 4 || (ms[0] != 0 && ms[0] != e.getDimSize(0)) ||
      ms[1] != kv * r || ms[3] != d ||
      (ms[2] != -1 && (e.isDynamicDim(3) || ms[2] != e.getDimSize(3))))
    return {v, 1};
  return {unsq.getInput(), r};
}

} // namespace

/// softmax(mask(scale * q k^T)) v, per head, merged back into [B, S, H * D].
LogicalResult mlir::rose::raise::raiseAttention(SoftmaxOp softmax,
                                                std::string &why) {
  auto type = cast<RankedTensorType>(softmax.getType());
  if (type.getRank() != 4 ||
      (softmax.getAxis() != 3 && softmax.getAxis() != -1)) {
    why = "not a softmax over the last dim of [batch, heads, seq, seq]";
    return failure();
  }
  // Upstream of the softmax: scale and causal mask in either order.
  Value v = softmax.getInput();
  double scale = 1.0;
  bool causal = false;
  for (int step = 0; step < 4; ++step) {
    Operation *op = v.getDefiningOp();
    if (auto w = dyn_cast_or_null<WhereOp>(op)) {
      if (causal)
        break;
      std::optional<double> lhs = constantScalar(w.getLhs()),
                            rhs = constantScalar(w.getRhs());
      bool masksWhenTrue = lhs.has_value();
      std::optional<double> fill = masksWhenTrue ? lhs : rhs;
      if (!fill || *fill > -1e30) {
        why = "the masking where does not fill with -inf or the float minimum";
        return failure();
      }
      if (!isCausal(w.getCondition(), masksWhenTrue)) {
        why = "the mask is not causal (j > i masked) at the sequence lengths "
              "tried";
        return failure();
      }
      causal = true;
      v = masksWhenTrue ? w.getRhs() : w.getLhs();
      continue;
    }
    if (auto add = dyn_cast_or_null<AddOp>(op)) {
      if (causal)
        break;
      // scores + mask (Hugging Face's additive causal mask).
      Value scores;
      for (auto [s, m] : {std::pair(add.getLhs(), add.getRhs()),
                          std::pair(add.getRhs(), add.getLhs())})
        if (s.getType() == add.getType() && isAdditiveCausal(m)) {
          scores = s;
          break;
        }
      if (!scores) {
        why = "the added mask is not causal (0 where j <= i, -inf or the "
              "float minimum where j > i) at the sequence lengths tried";
        return failure();
      }
      causal = true;
      v = scores;
      continue;
    }
    if (isa_and_nonnull<MulOp, DivOp>(op)) {
      std::optional<double> c = constantScalar(op->getOperand(1));
      Value x = op->getOperand(0);
      if (!c && isa<MulOp>(op)) {
        c = constantScalar(op->getOperand(0));
        x = op->getOperand(1);
      }
      if (!c || *c <= 0) {
        why = "scores are scaled by a value that is not a positive constant";
        return failure();
      }
      scale *= isa<DivOp>(op) ? 1.0 / *c : *c;
      v = x;
      continue;
    }
    break;
  }
  auto scores = v.getDefiningOp<MatMulOp>();
  if (!scores || scores.getBias()) {
    why = "the scores are not a matmul of two activations";
    return failure();
  }
  std::optional<HeadsView> q = headsView(scores.getLhs(), false);
  // Keys and values may be repeated per group of query heads (repeat_kv);
  // the attention op reads the kv heads themselves.
  auto [keys, keyGroups] = repeatedKv(scores.getRhs());
  std::optional<HeadsView> k = scores.getTransposeRhs() ? headsView(keys, false)
                               : keyGroups == 1         ? headsView(keys, true)
                                                        : std::nullopt;
  if (!q || !k) {
    why = "q or k is not a [batch, seq, heads * dim] value split into heads";
    return failure();
  }
  // Downstream: p v, heads merged back.
  if (!softmax.getResult().hasOneUse()) {
    why = "the probabilities have other uses";
    return failure();
  }
  auto pv = dyn_cast<MatMulOp>(*softmax.getResult().getUsers().begin());
  auto [values, valueGroups] =
      pv ? repeatedKv(pv.getRhs()) : std::pair<Value, int64_t>();
  std::optional<HeadsView> vh = pv && pv.getLhs() == softmax.getResult() &&
                                        !pv.getTransposeRhs() && !pv.getBias()
                                    ? headsView(values, false)
                                    : std::nullopt;
  if (!vh) {
    why = "the probabilities do not multiply v split into heads";
    return failure();
  }
  auto back = pv.getResult().hasOneUse()
                  ? dyn_cast<TransposeOp>(*pv.getResult().getUsers().begin())
                  : TransposeOp();
  auto merge = back && back.getPermutation() == ArrayRef<int64_t>{0, 2, 1, 3} &&
                       back.getResult().hasOneUse()
                   ? dyn_cast<ReshapeOp>(*back.getResult().getUsers().begin())
                   : ReshapeOp();
  auto mergedType =
      merge ? cast<RankedTensorType>(merge.getType()) : RankedTensorType();
  if (!merge || mergedType != q->packed.getType()) {
    why = "the result is not merged back into q's [batch, seq, heads * dim]";
    return failure();
  }
  // Multi-query attention may also broadcast its one kv head in the matmul.
  bool broadcastKv = keyGroups == 1 && k->heads == 1;
  if (k->headDim != q->headDim || vh->headDim != q->headDim ||
      k->heads != vh->heads || keyGroups != valueGroups ||
      (q->heads != k->heads * keyGroups && !broadcastKv)) {
    why = "q, k and v head counts or sizes do not fit";
    return failure();
  }
  // Self-attention: q, k and v of the same tokens.
  auto qType = cast<RankedTensorType>(q->packed.getType());
  for (Value kv : {k->packed, vh->packed}) {
    auto t = cast<RankedTensorType>(kv.getType());
    for (int64_t d : {0, 1})
      if (t.getDimSize(d) != qType.getDimSize(d)) {
        why = "q, k and v do not share batch and sequence dims";
        return failure();
      }
  }
  OpBuilder b(merge);
  auto attention = b.create<AttentionOp>(
      merge.getLoc(), q->packed, k->packed, vh->packed,
      b.getI64IntegerAttr(q->heads),
      k->heads == q->heads ? IntegerAttr() : b.getI64IntegerAttr(k->heads),
      causal ? b.getUnitAttr() : UnitAttr(),
      // The usual 1 / sqrt(head_dim) is the op's default.
      near(scale * std::sqrt(double(q->headDim)), 1.0)
          ? FloatAttr()
          : b.getF64FloatAttr(scale),
      /*window=*/IntegerAttr());
  merge.getResult().replaceAllUsesWith(attention.getResult());
  return success();
}

namespace {

/// `v` is slice(x, last axis, [begin, end)) of a rank-4 x; returns x.
Value sliceOfLast(Value v, int64_t begin, int64_t end) {
  auto s = v.getDefiningOp<SliceOp>();
  if (!s)
    return nullptr;
  auto type = cast<RankedTensorType>(s.getInput().getType());
  int64_t rank = type.getRank();
  if (rank != 4 || (s.getAxis() != rank - 1 && s.getAxis() != -1) ||
      s.getStart() != begin || s.getEnd() != end)
    return nullptr;
  return s.getInput();
}

/// The rotary frequencies of cos/sin tables broadcasting over [B, H, S, D]
/// ([..., S, D] with every leading dim 1): cos[s, i] = cos(s f_i) and
/// sin[s, i] = sin(s f_i), f_{i + D/2} = f_i, at every sequence length tried
/// (at least three). f_i is read off position 1 and checked everywhere.
std::optional<SmallVector<float>> rotaryFrequencies(Value cosT, Value sinT,
                                                    int64_t dim) {
  std::optional<SmallVector<float>> freq;
  int checked = 0;
  for (int64_t seq : {2, 3, 5, 8, 13, 32, 64, 128}) {
    ShapeEvaluator eval(seq);
    std::optional<EvalArray> c = eval.evaluate(cosT), s = eval.evaluate(sinT);
    if (!c || !s)
      continue;
    if (c->shape != s->shape || c->shape.size() < 2 || c->shape.back() != dim ||
        c->shape[c->shape.size() - 2] != seq ||
        int64_t(c->data.size()) != seq * dim)
      return std::nullopt; // leading dims other than 1
    int64_t half = dim / 2;
    if (!freq) {
      freq.emplace();
      for (int64_t i = 0; i < half; ++i)
        freq->push_back(float(std::atan2(s->data[dim + i], c->data[dim + i])));
    }
    for (int64_t p = 0; p < seq; ++p)
      for (int64_t i = 0; i < dim; ++i) {
        double angle = double(p) * double((*freq)[i % half]);
        if (std::fabs(c->data[p * dim + i] - std::cos(angle)) > 1e-5 ||
            std::fabs(s->data[p * dim + i] - std::sin(angle)) > 1e-5)
          return std::nullopt;
      }
    ++checked;
  }
  if (checked < 3)
    return std::nullopt;
  return freq;
}

} // namespace

/// x * cos + rotate_half(x) * sin, rotate_half(x) = concat(-x[..., D/2:],
/// x[..., :D/2]), on x = heads split from [B, S, H * D]: rotary(packed,
/// positions) split the same way.
LogicalResult mlir::rose::raise::raiseRotary(ConcatOp concat,
                                             std::string &why) {
  auto type = cast<RankedTensorType>(concat.getType());
  if (type.getRank() != 4 || concat.getInputs().size() != 2 ||
      (concat.getAxis() != 3 && concat.getAxis() != -1) ||
      type.isDynamicDim(3) || type.getDimSize(3) % 2 != 0)
    return failure();
  int64_t dim = type.getDimSize(3), half = dim / 2;
  auto neg = concat.getInputs()[0].getDefiningOp<NegOp>();
  Value x = neg ? sliceOfLast(neg.getInput(), half, dim) : Value();
  if (!x || sliceOfLast(concat.getInputs()[1], 0, half) != x)
    return failure(); // not a rotate_half: nothing to say
  // (x * cos) + (rotate_half(x) * sin)
  Value rotated = concat.getResult();
  auto mulSin = rotated.hasOneUse()
                    ? dyn_cast<MulOp>(*rotated.getUsers().begin())
                    : MulOp();
  Value sinT = mulSin ? otherOperand(mulSin, rotated) : Value();
  auto add = mulSin && mulSin.getResult().hasOneUse()
                 ? dyn_cast<AddOp>(*mulSin.getResult().getUsers().begin())
                 : AddOp();
  auto mulCos =
      add ? otherOperand(add, mulSin.getResult()).getDefiningOp<MulOp>()
          : MulOp();
  Value cosT = mulCos ? otherOperand(mulCos, x) : Value();
  if (!sinT || !cosT || add.getType() != x.getType()) {
    why = "rotate_half(x) is not used as x * cos + rotate_half(x) * sin";
    return failure();
  }
  std::optional<HeadsView> heads = headsView(x, false);
  if (!heads || heads->headDim != dim) {
    why = "the rotated value is not [batch, seq, heads * dim] split into heads";
    return failure();
  }
  std::optional<SmallVector<float>> freq = rotaryFrequencies(cosT, sinT, dim);
  if (!freq) {
    why = "the cos/sin tables are not cos/sin of position x frequency (both "
          "halves alike) at the sequence lengths tried";
    return failure();
  }
  // The token ids the positions count: the function's [batch, seq] I64
  // argument (the evaluation above read its dims as batch and seq).
  auto f = concat->getParentOfType<func::FuncOp>();
  Value ids;
  for (BlockArgument a : f ? f.getArguments() : ArrayRef<BlockArgument>()) {
    auto t = dyn_cast<RankedTensorType>(a.getType());
    if (!ids && t && t.getRank() == 2 && t.getElementType().isInteger(64))
      ids = a;
  }
  if (!ids) {
    why = "the function takes no [batch, seq] token ids to position";
    return failure();
  }
  // The same split into heads, of the rotated packed value.
  auto split = x.getDefiningOp<TransposeOp>();
  auto view = split.getInput().getDefiningOp<ReshapeOp>();
  auto idsType = cast<RankedTensorType>(ids.getType());
  auto packedType = cast<RankedTensorType>(heads->packed.getType());
  for (int64_t d : {0, 1})
    if (idsType.getDimSize(d) != packedType.getDimSize(d)) {
      why = "the token ids and the rotated value differ in batch or sequence";
      return failure();
    }
  // The positions where the ids are first read when that is before the
  // rotation (as the checkpoint importer places them, after the
  // embedding), else first; CSE merges those of every rotation.
  OpBuilder b(add);
  Location loc = add.getLoc();
  Operation *firstRead = nullptr;
  for (Operation *user : ids.getUsers())
    if (user->getBlock() == add->getBlock() &&
        (!firstRead || user->isBeforeInBlock(firstRead)))
      firstRead = user;
  OpBuilder atIds(ids.getContext());
  if (firstRead && firstRead->isBeforeInBlock(add))
    atIds.setInsertionPointAfter(firstRead);
  else
    atIds.setInsertionPointToStart(ids.getParentBlock());
  Value pos = atIds.create<PositionsOp>(loc, ids, 0);
  Value r = b.create<RotaryOp>(loc, heads->packed, pos,
                               b.getI64IntegerAttr(heads->heads),
                               b.getDenseF32ArrayAttr(*freq), UnitAttr());
  Value r4 = b.create<ReshapeOp>(loc, r, view.getShape());
  Value rt = b.create<TransposeOp>(loc, r4, split.getPermutation());
  add.getResult().replaceAllUsesWith(rt);
  return success();
}
