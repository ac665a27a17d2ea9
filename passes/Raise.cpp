//===- Raise.cpp - recognise layers in primitive ops ----------------------===//
//
// --rose-raise rewrites chains of primitive ops (an ONNX graph imported op
// by op) into rose's fused ops where it can prove they compute the same
// thing: GELU (tanh, erf), SiLU, layer norm, transposes folded into
// matmuls, and scaled-dot-product attention with a causal mask. Raising only
// buys speed: whatever is not raised still shards and runs correctly, and the
// pass says in a remark which pattern an anchor (a tanh, an erf, a softmax)
// did not complete and why.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"
#include "passes/RaiseEval.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/STLExtras.h"

#include <cmath>

namespace mlir::rose {
#define GEN_PASS_DEF_ROSERAISE
#include "passes/Passes.h.inc"
} // namespace mlir::rose

using namespace mlir;
using namespace mlir::rose;

namespace {

bool near(double a, double b) {
  return std::fabs(a - b) <= 1e-6 * std::max(1.0, std::fabs(b));
}

/// A product flattened: coefficient x factors (muls, divides by constants
/// and integer powers expanded; constants folded into the coefficient).
struct Product {
  double coefficient = 1.0;
  SmallVector<Value> factors;
};

void flatten(Value v, Product &p, int depth = 0) {
  if (std::optional<double> c = constantScalar(v)) {
    p.coefficient *= *c;
    return;
  }
  Operation *op = v.getDefiningOp();
  if (depth < 8) {
    if (auto mul = dyn_cast_or_null<MulOp>(op)) {
      flatten(mul.getLhs(), p, depth + 1);
      flatten(mul.getRhs(), p, depth + 1);
      return;
    }
    if (auto div = dyn_cast_or_null<DivOp>(op))
      if (std::optional<double> c = constantScalar(div.getRhs()); c && *c) {
        flatten(div.getLhs(), p, depth + 1);
        p.coefficient /= *c;
        return;
      }
    if (auto pow = dyn_cast_or_null<PowOp>(op))
      if (std::optional<double> e = constantScalar(pow.getRhs());
          e && *e >= 1 && *e <= 4 && *e == std::floor(*e)) {
        for (int i = 0; i < *e; ++i)
          flatten(pow.getLhs(), p, depth + 1);
        return;
      }
  }
  p.factors.push_back(v);
}

Product productOf(Value v) {
  Product p;
  flatten(v, p);
  return p;
}

/// `v` is c * x for the single factor x; returns x.
std::optional<Value> scaled(Value v, double c) {
  Product p = productOf(v);
  if (p.factors.size() != 1 || !near(p.coefficient, c))
    return std::nullopt;
  return p.factors[0];
}

/// The same factors, in any order.
bool sameFactors(SmallVector<Value> a, SmallVector<Value> b) {
  auto less = [](Value x, Value y) {
    return x.getAsOpaquePointer() < y.getAsOpaquePointer();
  };
  llvm::sort(a, less);
  llvm::sort(b, less);
  return a == b;
}

/// The other operand of a binary op whose one operand is `v`.
Value otherOperand(Operation *op, Value v) {
  if (op->getNumOperands() != 2)
    return nullptr;
  if (op->getOperand(0) == v)
    return op->getOperand(1);
  if (op->getOperand(1) == v)
    return op->getOperand(0);
  return nullptr;
}

//===----------------------------------------------------------------------===//
// GELU and SiLU
//===----------------------------------------------------------------------===//

/// x of tanh's argument sqrt(2/pi) * (x + 0.044715 x^3), or of erf's x /
/// sqrt 2.
std::optional<Value> geluInput(Operation *f, bool tanhForm) {
  Value arg = f->getOperand(0);
  if (!tanhForm)
    return scaled(arg, 1.0 / std::sqrt(2.0));
  Product outer = productOf(arg);
  if (outer.factors.size() != 1 ||
      !near(outer.coefficient, std::sqrt(2.0 / M_PI)))
    return std::nullopt;
  auto add = outer.factors[0].getDefiningOp<AddOp>();
  if (!add)
    return std::nullopt;
  for (auto [a, b] : {std::pair(add.getLhs(), add.getRhs()),
                      std::pair(add.getRhs(), add.getLhs())}) {
    Product cube = productOf(b);
    if (cube.factors.size() == 3 && near(cube.coefficient, 0.044715) &&
        llvm::all_equal(cube.factors) && cube.factors[0] == a)
      return a;
  }
  return std::nullopt;
}

/// 0.5 * x * (1 + f(...)) around the tanh or erf `f`: the value to replace.
LogicalResult raiseGelu(Operation *f, bool tanhForm, std::string &why) {
  std::optional<Value> x = geluInput(f, tanhForm);
  if (!x) {
    why = tanhForm ? "argument is not sqrt(2/pi) * (x + 0.044715 x^3)"
                   : "argument is not x / sqrt(2)";
    return failure();
  }
  Value t = f->getResult(0);
  for (Operation *user : t.getUsers()) {
    auto add = dyn_cast<AddOp>(user);
    std::optional<double> one =
        add ? constantScalar(otherOperand(add, t)) : std::nullopt;
    if (!one || *one != 1.0)
      continue;
    // Walk up single-use multiplies from 1 + f until the product is
    // 0.5 * x * (1 + f).
    Value v = add.getResult();
    while (v.hasOneUse()) {
      auto mul = dyn_cast<MulOp>(*v.getUsers().begin());
      if (!mul)
        break;
      v = mul.getResult();
      Product p = productOf(v);
      if (near(p.coefficient, 0.5) &&
          sameFactors(p.factors, {*x, add.getResult()})) {
        OpBuilder b(mul);
        auto gelu = b.create<GeluOp>(mul.getLoc(), *x,
                                     tanhForm ? GeluApproximation::Tanh
                                              : GeluApproximation::None);
        mul.getResult().replaceAllUsesWith(gelu.getResult());
        return success();
      }
    }
  }
  why = "no 0.5 * x * (1 + f) around it";
  return failure();
}

/// A mean over the last axis of `x`, kept as size 1.
bool isLastMean(Value v, Value x) {
  auto r = v.getDefiningOp<ReduceOp>();
  int64_t rank = cast<RankedTensorType>(x.getType()).getRank();
  return r && r.getInput() == x && r.getKind() == ReduceKind::Mean &&
         (r.getAxis() == -1 || r.getAxis() == rank - 1);
}

/// Layer norm spelled out (ONNX before opset 17): c = x - mean(x);
/// c / sqrt(mean(c^2) + eps) (or c * reciprocal(...)) * w + b, with 1-D
/// params w and b. Anchored on the variance's mean.
LogicalResult raiseLayerNorm(ReduceOp var, std::string &why) {
  Product square = productOf(var.getInput());
  if (square.factors.size() != 2 || square.factors[0] != square.factors[1] ||
      square.coefficient != 1.0)
    return failure(); // not a variance: nothing to say
  Value c = square.factors[0];
  auto sub = c.getDefiningOp<SubOp>();
  if (!sub || !isLastMean(sub.getRhs(), sub.getLhs()) ||
      !isLastMean(var.getResult(), var.getInput())) {
    why = "the squared value is not x - mean(x) over the last axis";
    return failure();
  }
  Value x = sub.getLhs();
  // sqrt(var + eps)
  if (!var.getResult().hasOneUse()) {
    why = "the variance has other uses";
    return failure();
  }
  auto addEps = dyn_cast<AddOp>(*var.getResult().getUsers().begin());
  std::optional<double> eps =
      addEps ? constantScalar(otherOperand(addEps, var.getResult()))
             : std::nullopt;
  auto root = addEps && addEps.getResult().hasOneUse()
                  ? dyn_cast<SqrtOp>(*addEps.getResult().getUsers().begin())
                  : SqrtOp();
  if (!eps || *eps <= 0 || !root || !root.getResult().hasOneUse()) {
    why = "the variance is not followed by + epsilon and sqrt";
    return failure();
  }
  // c / sd, or c * reciprocal(sd)
  Operation *user = *root.getResult().getUsers().begin();
  Value normalized;
  if (auto div = dyn_cast<DivOp>(user); div && div.getLhs() == c)
    normalized = div.getResult();
  else if (auto rec = dyn_cast<ReciprocalOp>(user);
           rec && rec.getResult().hasOneUse())
    if (auto mul = dyn_cast<MulOp>(*rec.getResult().getUsers().begin());
        mul && otherOperand(mul, rec.getResult()) == c)
      normalized = mul.getResult();
  if (!normalized || !normalized.hasOneUse()) {
    why = "x - mean is not divided by the standard deviation";
    return failure();
  }
  // * w + b with 1-D params of the last dim's size.
  auto type = cast<RankedTensorType>(x.getType());
  auto isVector = [&](Value p) {
    auto t = p ? dyn_cast<RankedTensorType>(p.getType()) : RankedTensorType();
    return t && t.getRank() == 1 && t.getDimSize(0) == type.getShape().back() &&
           t.getElementType() == type.getElementType();
  };
  auto mul = dyn_cast<MulOp>(*normalized.getUsers().begin());
  Value w = mul ? otherOperand(mul, normalized) : Value();
  auto add = mul && mul.getResult().hasOneUse()
                 ? dyn_cast<AddOp>(*mul.getResult().getUsers().begin())
                 : AddOp();
  Value bias = add ? otherOperand(add, mul.getResult()) : Value();
  if (!isVector(w) || !isVector(bias)) {
    why = "the normalized value is not scaled and shifted by 1-D weights";
    return failure();
  }
  OpBuilder b(add);
  auto ln =
      b.create<LayerNormOp>(add.getLoc(), x, w, bias, b.getF64FloatAttr(*eps));
  add.getResult().replaceAllUsesWith(ln.getResult());
  return success();
}

/// x * sigmoid(x) -> silu(x)./// x * sigmoid(x) -> silu(x).
bool raiseSilu(SigmoidOp s) {
  Value x = s.getInput();
  for (Operation *user : s.getResult().getUsers())
    if (isa<MulOp>(user) && otherOperand(user, s.getResult()) == x) {
      OpBuilder b(user);
      user->getResult(0).replaceAllUsesWith(
          b.create<SiluOp>(user->getLoc(), x).getResult());
      return true;
    }
  return false;
}

/// matmul(a, transpose(b)) with the transpose swapping b's last two dims:
/// the matmul reads b transposed instead.
bool foldTranspose(MatMulOp m) {
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

/// The mask's condition is j > i (`masked`: where true, the scores are
/// replaced) or j <= i (kept), at every sequence length tried.
bool isCausal(Value condition, bool conditionMasks) {
  int checked = 0;
  for (int64_t seq : {1, 2, 3, 5, 8, 13, 32, 64, 128}) {
    ShapeEvaluator eval(seq);
    std::optional<EvalArray> m = eval.evaluate(condition);
    if (!m)
      continue; // e.g. a mask buffer shorter than seq
    size_t rank = m->shape.size();
    if (rank < 2 || m->shape[rank - 1] != seq || m->shape[rank - 2] != seq)
      return false;
    for (size_t e = 0; e < m->data.size(); ++e) {
      int64_t i = (e / seq) % seq, j = e % seq;
      bool masked = (m->data[e] != 0.0) == conditionMasks;
      if (masked != (j > i))
        return false;
    }
    ++checked;
  }
  return checked >= 3;
}

/// softmax(mask(scale * q k^T)) v, per head, merged back into [B, S, H * D].
LogicalResult raiseAttention(SoftmaxOp softmax, std::string &why) {
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
  std::optional<HeadsView> k = scores.getTransposeRhs()
                                   ? headsView(scores.getRhs(), false)
                                   : headsView(scores.getRhs(), true);
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
  std::optional<HeadsView> vh = pv && pv.getLhs() == softmax.getResult() &&
                                        !pv.getTransposeRhs() && !pv.getBias()
                                    ? headsView(pv.getRhs(), false)
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
  if (!merge || mergedType.getRank() != 3 ||
      mergedType.getDimSize(2) != q->heads * q->headDim) {
    why = "the result is not merged back into [batch, seq, heads * dim]";
    return failure();
  }
  if (k->headDim != q->headDim || vh->headDim != q->headDim ||
      k->heads != vh->heads || q->heads % k->heads != 0) {
    why = "q, k and v head counts or sizes do not fit";
    return failure();
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
          : b.getF64FloatAttr(scale));
  merge.getResult().replaceAllUsesWith(attention.getResult());
  return success();
}

/// Rows of a 2-D weight at iota(ids, 1) (torch's arange(seq) into a
/// position embedding), used only by adds that broadcast it over the batch:
/// embedding(w, positions(ids)), the form generation offsets.
bool raisePositions(GatherOp g) {
  auto iota = g.getIndices().getDefiningOp<IotaOp>();
  auto table = g.getInput().getDefiningOp<ParamOp>();
  auto ids = iota ? dyn_cast<RankedTensorType>(iota.getRef().getType())
                  : RankedTensorType();
  if (!iota || !table || g.getAxis() != 0 || !ids || ids.getRank() != 2 ||
      iota.getDim() != 1 || !ids.getElementType().isInteger(64) ||
      table.getType().getRank() != 2)
    return false;
  auto type = RankedTensorType::get(
      {ids.getDimSize(0), ids.getDimSize(1), table.getType().getDimSize(1)},
      table.getType().getElementType());
  for (Operation *user : g.getResult().getUsers())
    if (!isa<AddOp>(user) || user->getResult(0).getType() != type)
      return false;
  OpBuilder b(g);
  Value pos = b.create<PositionsOp>(g.getLoc(), iota.getRef(), 0);
  Value rows = b.create<EmbeddingOp>(g.getLoc(), table, pos, nullptr);
  g.getResult().replaceAllUsesWith(rows);
  return true;
}

/// Erases pure ops left without uses (the raised chains).
void eraseDead(func::FuncOp f) {
  bool changed = true;
  while (changed) {
    changed = false;
    SmallVector<Operation *> dead;
    f.walk([&](Operation *op) {
      if (op->getDialect() && isa<RoseDialect>(op->getDialect()) &&
          op->use_empty() && isPure(op))
        dead.push_back(op);
    });
    for (Operation *op : dead)
      op->erase();
    changed = !dead.empty();
  }
}

struct RaisePass : mlir::rose::impl::RoseRaiseBase<RaisePass> {
  void runOnOperation() override {
    getOperation().walk([&](func::FuncOp f) {
      f.walk([](MatMulOp m) { foldTranspose(m); });
      f.walk([](GatherOp g) { raisePositions(g); });
      SmallVector<Operation *> anchors;
      f.walk([&](Operation *op) {
        if (isa<TanhOp, ErfOp, SigmoidOp, SoftmaxOp>(op) ||
            (isa<ReduceOp>(op) &&
             cast<ReduceOp>(op).getKind() == ReduceKind::Mean))
          anchors.push_back(op);
      });
      for (Operation *op : anchors) {
        std::string why;
        if (auto s = dyn_cast<SigmoidOp>(op)) {
          if (!raiseSilu(s))
            op->emitRemark("rose-raise: sigmoid not raised to silu: no x * "
                           "sigmoid(x)");
          continue;
        }
        if (auto r = dyn_cast<ReduceOp>(op)) {
          if (failed(raiseLayerNorm(r, why)) && !why.empty())
            op->emitRemark("rose-raise: mean not raised to layer_norm: ")
                << why;
          continue;
        }
        if (auto s = dyn_cast<SoftmaxOp>(op)) {
          if (failed(raiseAttention(s, why)))
            op->emitRemark("rose-raise: softmax not raised to attention: ")
                << why;
          continue;
        }
        bool tanhForm = isa<TanhOp>(op);
        if (failed(raiseGelu(op, tanhForm, why)))
          op->emitRemark("rose-raise: ")
              << (tanhForm ? "tanh" : "erf") << " not raised to gelu: " << why;
      }
      eraseDead(f);
    });
  }
};

} // namespace
