//===- TokenLocal.cpp - which ops act on each token alone -----------------===//
#include "passes/TokenLocal.h"
#include "dialect/RoseOps.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::rose;

std::optional<std::string> mlir::rose::tokenMixing(
    Operation *op, llvm::function_ref<const AffineShape *(Value)> shapeOf) {
  // Dim `d` of `v` (negative: from the end) holds tokens.
  auto alongSeq = [&](Value v, int64_t d) {
    const AffineShape *s = shapeOf(v);
    if (!s)
      return false;
    int64_t rank = s->size();
    if (d < 0)
      d += rank;
    return d >= 0 && d < rank && dependsOn((*s)[d], kSeq);
  };
  // Each token's features are whole and contiguous: the dims after the last
  // one holding tokens are static, with this product (1 without tokens).
  auto featuresPerToken = [&](Value v) -> std::optional<int64_t> {
    const AffineShape *s = shapeOf(v);
    if (!s)
      return 1;
    int64_t product = 1;
    for (size_t d = s->size(); d-- > 0;) {
      if (dependsOn((*s)[d], kSeq))
        return product;
      if (!(*s)[d].isStatic())
        return std::nullopt;
      product *= (*s)[d].constant / (*s)[d].divisor;
    }
    return 1; // no tokens at all
  };
  using Why = std::optional<std::string>;
  auto along = [&](StringRef what) -> Why {
    return (what + " along the sequence").str();
  };
  return llvm::TypeSwitch<Operation *, Why>(op)
      .Case([&](AttentionOp a) -> Why {
        if (!a.getCausal())
          return std::string("attention without a causal mask (every token "
                             "sees the later ones)");
        return std::nullopt;
      })
      .Case([&](IotaOp i) -> Why {
        if (alongSeq(i.getRef(), i.getDim()))
          return std::string("rose.iota counts the sequence (positions "
                             "not raised to rose.positions)");
        return std::nullopt;
      })
      .Case([&](TriluOp t) -> Why {
        if (alongSeq(t.getInput(), -1) || alongSeq(t.getInput(), -2))
          return std::string("rose.trilu masks by sequence position (a "
                             "causal mask not raised into rose.attention)");
        return std::nullopt;
      })
      .Case([&](MatMulOp m) -> Why {
        // Contracting over tokens, or pairing each token with every other
        // (q k^T), mixes them; tokens as rows or batch dims do not.
        Value rhs = m.getRhs();
        if (alongSeq(m.getLhs(), -1) || alongSeq(rhs, -1) || alongSeq(rhs, -2))
          return std::string(
              "rose.matmul contracts or pairs tokens (an attention "
              "not raised into rose.attention)");
        return std::nullopt;
      })
      .Case([&](SoftmaxOp s) -> Why {
        return alongSeq(s.getInput(), s.getAxis()) ? along("rose.softmax")
                                                   : std::nullopt;
      })
      .Case([&](ReduceOp r) -> Why {
        return alongSeq(r.getInput(), r.getAxis()) ? along("rose.reduce")
                                                   : std::nullopt;
      })
      .Case<LayerNormOp, RmsNormOp>([&](auto n) -> Why {
        return alongSeq(n.getInput(), -1) ? along("a norm") : std::nullopt;
      })
      .Case([&](SplitOp s) -> Why {
        return alongSeq(s.getInput(), s.getAxis()) ? along("rose.split")
                                                   : std::nullopt;
      })
      .Case([&](SliceOp s) -> Why {
        return alongSeq(s.getInput(), s.getAxis()) ? along("rose.slice")
                                                   : std::nullopt;
      })
      .Case([&](ConcatOp c) -> Why {
        return alongSeq(c.getResult(), c.getAxis()) ? along("rose.concat")
                                                    : std::nullopt;
      })
      .Case([&](GatherOp g) -> Why {
        return alongSeq(g.getInput(), g.getAxis()) ? along("rose.gather")
                                                   : std::nullopt;
      })
      .Case([&](ReshapeOp r) -> Why {
        std::optional<int64_t> in = featuresPerToken(r.getInput()),
                               out = featuresPerToken(r.getResult());
        if (!in || !out || *in != *out)
          return std::string("rose.reshape regroups tokens");
        return std::nullopt;
      })
      .Case([&](AllToAllOp c) -> Why {
        if (alongSeq(c.getInput(), c.getSplitDim()) ||
            alongSeq(c.getInput(), c.getConcatDim()))
          return "the plan moves a split of the sequence over '" +
                 c.getAxis().str() +
                 "': a decode step's one token cannot be "
                 "split";
        return std::nullopt;
      })
      .Case<AllGatherOp, ReduceScatterOp, ShardSliceOp>([&](auto c) -> Why {
        if (alongSeq(c.getInput(), c.getDim()))
          return "the plan splits the sequence over '" + c.getAxis().str() +
                 "' (sequence parallelism): a decode step's one token "
                 "cannot be split";
        return std::nullopt;
      })
      // Maps of each element, or of each token's features, and data
      // movement that keeps tokens whole.
      .Case<EmbeddingOp, PositionsOp, CastOp, FillOp, AddOp, SubOp, MulOp,
            DivOp, PowOp, MaxOp, MinOp, EqualOp, LessOp, GreaterOp, NegOp,
            ExpOp, SqrtOp, ReciprocalOp, TanhOp, ErfOp, SigmoidOp, CosOp, SinOp,
            NotOp, ReluOp, SiluOp, WhereOp, GeluOp, RotaryOp, TransposeOp,
            AllReduceOp, ParamOp, ConstantOp>(
          [](Operation *) -> Why { return std::nullopt; })
      .Default([](Operation *op) -> Why {
        return op->getName().getStringRef().str() +
               " is not known to act on each token alone";
      });
}
