//===- RoseFolds.cpp - rose op folders
//-------------------------------------===//
//
// Folds that remove no-op data movement. They matter after TP rewriting,
// which leaves identity collectives at tp=1 and chains of reshapes.
//
//===----------------------------------------------------------------------===//
#include "dialect/RoseOps.h"

#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace mlir::rose;

OpFoldResult ConstantOp::fold(FoldAdaptor) { return getValue(); }

OpFoldResult ReshapeOp::fold(FoldAdaptor) {
  if (getInput().getType() == getType() && getType().hasStaticShape())
    return getInput();
  // reshape(reshape(x)) -> reshape(x) when this shape names every dim
  // explicitly (a 0 would refer to the intermediate's dims).
  if (auto inner = getInput().getDefiningOp<ReshapeOp>()) {
    if (llvm::is_contained(getShape(), 0))
      return {};
    getInputMutable().assign(inner.getInput());
    return getResult();
  }
  return {};
}

OpFoldResult TransposeOp::fold(FoldAdaptor) {
  ArrayRef<int64_t> perm = getPermutation();
  auto isIdentity = [](ArrayRef<int64_t> p) {
    for (auto [i, v] : llvm::enumerate(p))
      if (static_cast<int64_t>(i) != v)
        return false;
    return true;
  };
  if (isIdentity(perm))
    return getInput();
  // transpose(transpose(x, p), q) == transpose(x, p o q).
  if (auto inner = getInput().getDefiningOp<TransposeOp>()) {
    SmallVector<int64_t> composed;
    for (int64_t q : perm)
      composed.push_back(inner.getPermutation()[q]);
    if (isIdentity(composed))
      return inner.getInput();
    setPermutation(composed);
    getInputMutable().assign(inner.getInput());
    return getResult();
  }
  return {};
}

LogicalResult SplitOp::fold(FoldAdaptor,
                            SmallVectorImpl<OpFoldResult> &results) {
  if (getNumResults() != 1 || getInput().getType() != getResult(0).getType())
    return failure();
  results.push_back(getInput());
  return success();
}

OpFoldResult ConcatOp::fold(FoldAdaptor) {
  if (getInputs().size() == 1 && getInputs().front().getType() == getType())
    return getInputs().front();
  return {};
}

OpFoldResult SliceOp::fold(FoldAdaptor) {
  if (getInput().getType() == getType() && getType().hasStaticShape())
    return getInput();
  return {};
}

// A collective over a group of one rank moves nothing.
OpFoldResult AllReduceOp::fold(FoldAdaptor) {
  return getGroupSize() == 1 ? getInput() : OpFoldResult();
}
OpFoldResult AllGatherOp::fold(FoldAdaptor) {
  return getGroupSize() == 1 ? getInput() : OpFoldResult();
}
OpFoldResult AllToAllOp::fold(FoldAdaptor) {
  return getGroupSize() == 1 ? getInput() : OpFoldResult();
}
OpFoldResult ReduceScatterOp::fold(FoldAdaptor) {
  return getGroupSize() == 1 ? getInput() : OpFoldResult();
}
OpFoldResult ShardSliceOp::fold(FoldAdaptor) {
  return getGroupSize() == 1 ? getInput() : OpFoldResult();
}

namespace {
/// add(matmul(x, w), b) -> matmul(x, w, b): exporters write a linear layer's
/// bias as a separate Add; as the matmul's bias it is added once per row
/// inside the GEMM epilogue, and TP sharding knows to add it exactly once.
struct FuseBiasIntoMatMul : OpRewritePattern<AddOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(AddOp add,
                                PatternRewriter &rewriter) const override {
    for (auto [product, bias] : {std::pair(add.getLhs(), add.getRhs()),
                                 std::pair(add.getRhs(), add.getLhs())}) {
      auto matmul = product.getDefiningOp<MatMulOp>();
      if (!matmul || matmul.getBias() || !matmul->hasOneUse())
        continue;
      auto biasType = cast<RankedTensorType>(bias.getType());
      int64_t n = matmul.getType().getShape().back();
      // The add must not broadcast the product to a larger shape.
      if (biasType.getRank() != 1 || biasType.getDimSize(0) != n ||
          ShapedType::isDynamic(n) || add.getType() != matmul.getType())
        continue;
      rewriter.replaceOpWithNewOp<MatMulOp>(add, matmul.getLhs(),
                                            matmul.getRhs(), bias,
                                            matmul.getTransposeRhs());
      return success();
    }
    return failure();
  }
};
} // namespace

void AddOp::getCanonicalizationPatterns(RewritePatternSet &patterns,
                                        MLIRContext *context) {
  patterns.add<FuseBiasIntoMatMul>(context);
}
