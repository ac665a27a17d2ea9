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
#include "passes/RaisePatterns.h"

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
using namespace mlir::rose::raise;

namespace {

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

constexpr const char *kNotCentered =
    "the squared value is not x - mean(x) over the last axis";

/// The root's single user dividing `x` by it: x / root, x * reciprocal(root)
/// or x * (1 / root) (torch's rsqrt exported); the quotient, or null.
Value dividedBy(Value x, SqrtOp root) {
  if (!root.getResult().hasOneUse())
    return nullptr;
  Operation *user = *root.getResult().getUsers().begin();
  if (auto div = dyn_cast<DivOp>(user)) {
    if (div.getLhs() == x)
      return div.getResult();
    std::optional<double> one = constantScalar(div.getLhs());
    if (!one || *one != 1.0 || !div.getResult().hasOneUse())
      return nullptr;
    user = *div.getResult().getUsers().begin();
  } else if (isa<ReciprocalOp>(user)) {
    if (!user->getResult(0).hasOneUse())
      return nullptr;
    user = *user->getResult(0).getUsers().begin();
  } else {
    return nullptr;
  }
  auto mul = dyn_cast<MulOp>(user);
  return mul && otherOperand(mul, user->getOperand(0) == x
                                      ? user->getOperand(1)
                                      : user->getOperand(0)) == x
             ? mul.getResult()
             : nullptr;
}

/// sqrt(var + eps) following a variance with one use: the root and eps.
std::optional<std::pair<SqrtOp, double>> rootOfVariance(ReduceOp var) {
  if (!var.getResult().hasOneUse())
    return std::nullopt;
  auto addEps = dyn_cast<AddOp>(*var.getResult().getUsers().begin());
  std::optional<double> eps =
      addEps ? constantScalar(otherOperand(addEps, var.getResult()))
             : std::nullopt;
  auto root = addEps && addEps.getResult().hasOneUse()
                  ? dyn_cast<SqrtOp>(*addEps.getResult().getUsers().begin())
                  : SqrtOp();
  if (!eps || *eps <= 0 || !root)
    return std::nullopt;
  return std::pair(root, *eps);
}

/// RMS norm spelled out (Llama's RMSNorm as torch exports it): x /
/// sqrt(mean(x^2) + eps) (or times its reciprocal, or 1 / it) * w, w a 1-D
/// param. Anchored on the mean of squares.
LogicalResult raiseRmsNorm(ReduceOp var, std::string &why) {
  Product square = productOf(var.getInput());
  if (square.factors.size() != 2 || square.factors[0] != square.factors[1] ||
      square.coefficient != 1.0)
    return failure();
  Value x = square.factors[0];
  if (!isLastMean(var.getResult(), var.getInput())) {
    why = "the mean of squares is not over the last axis";
    return failure();
  }
  std::optional<std::pair<SqrtOp, double>> root = rootOfVariance(var);
  if (!root) {
    why = "the mean of squares is not followed by + epsilon and sqrt";
    return failure();
  }
  Value normalized = dividedBy(x, root->first);
  if (!normalized || !normalized.hasOneUse()) {
    why = "x is not divided by the root mean square";
    return failure();
  }
  auto type = cast<RankedTensorType>(x.getType());
  auto mul = dyn_cast<MulOp>(*normalized.getUsers().begin());
  Value w = mul ? otherOperand(mul, normalized) : Value();
  auto wType = w ? dyn_cast<RankedTensorType>(w.getType()) : RankedTensorType();
  if (!wType || wType.getRank() != 1 ||
      wType.getDimSize(0) != type.getShape().back() ||
      mul.getType() != x.getType()) {
    why = "the normalized value is not scaled by a 1-D weight";
    return failure();
  }
  OpBuilder b(mul);
  auto rms =
      b.create<RmsNormOp>(mul.getLoc(), x, w, b.getF64FloatAttr(root->second));
  mul.getResult().replaceAllUsesWith(rms.getResult());
  return success();
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
    why = kNotCentered;
    return failure();
  }
  Value x = sub.getLhs();
  std::optional<std::pair<SqrtOp, double>> root = rootOfVariance(var);
  if (!root) {
    why = "the variance is not followed by + epsilon and sqrt";
    return failure();
  }
  std::optional<double> eps = root->second;
  // c / sd, or c * reciprocal(sd), or c * (1 / sd)
  Value normalized = dividedBy(c, root->first);
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
      // Rotary embeddings first: attention then finds the rotated q and k
      // split into heads.
      SmallVector<ConcatOp> concats;
      f.walk([&](ConcatOp c) { concats.push_back(c); });
      for (ConcatOp c : concats) {
        std::string why;
        if (failed(raiseRotary(c, why)) && !why.empty())
          c->emitRemark("rose-raise: concat not raised to rotary: ") << why;
      }
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
          if (succeeded(raiseLayerNorm(r, why)) || why.empty())
            continue;
          if (why != kNotCentered) {
            op->emitRemark("rose-raise: mean not raised to layer_norm: ")
                << why;
            continue;
          }
          why.clear();
          if (failed(raiseRmsNorm(r, why)))
            op->emitRemark("rose-raise: mean not raised to layer_norm or "
                           "rms_norm: ")
                << (why.empty() ? std::string(kNotCentered) : why);
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
