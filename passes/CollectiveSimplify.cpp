//===- CollectiveSimplify.cpp - elide redundant collectives
//----------------===//
#include "passes/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::rose {
#define GEN_PASS_DEF_ROSECOLLECTIVESIMPLIFY
#include "passes/Passes.h.inc"
} // namespace mlir::rose

using namespace mlir;
using namespace mlir::rose;

namespace {

template <typename A, typename B> bool sameGroup(A a, B b) {
  return a.getAxis() == b.getAxis() && a.getGroupSize() == b.getGroupSize();
}

/// shard_slice(all_gather(x, d), d) -> x: the gather brought back what this
/// rank already had.
struct GatherThenSlice : OpRewritePattern<ShardSliceOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ShardSliceOp slice,
                                PatternRewriter &rewriter) const override {
    auto gather = slice.getInput().getDefiningOp<AllGatherOp>();
    if (!gather || !sameGroup(slice, gather) ||
        gather.getDim() != slice.getDim() ||
        gather.getInput().getType() != slice.getType())
      return failure();
    gather->emitRemark() << "rose-collective-simplify: elided all_gather + "
                            "shard_slice on dim "
                         << slice.getDim() << " (the rank keeps its chunk)";
    rewriter.replaceOp(slice, gather.getInput());
    return success();
  }
};

/// all_gather(shard_slice(x, d), d) -> x: gathering the chunks of a
/// replicated value rebuilds it.
struct SliceThenGather : OpRewritePattern<AllGatherOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AllGatherOp gather,
                                PatternRewriter &rewriter) const override {
    auto slice = gather.getInput().getDefiningOp<ShardSliceOp>();
    if (!slice || !sameGroup(slice, gather) ||
        gather.getDim() != slice.getDim() ||
        slice.getInput().getType() != gather.getType())
      return failure();
    gather->emitRemark() << "rose-collective-simplify: elided shard_slice + "
                            "all_gather on dim "
                         << gather.getDim() << " (the value was replicated)";
    rewriter.replaceOp(gather, slice.getInput());
    return success();
  }
};

/// shard_slice(all_reduce(x), d) -> reduce_scatter(x, d): each rank needs
/// only its chunk of the sum.
struct ReduceThenSlice : OpRewritePattern<ShardSliceOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ShardSliceOp slice,
                                PatternRewriter &rewriter) const override {
    auto reduce = slice.getInput().getDefiningOp<AllReduceOp>();
    if (!reduce || !sameGroup(slice, reduce))
      return failure();
    reduce->emitRemark() << "rose-collective-simplify: all_reduce + "
                            "shard_slice on dim "
                         << slice.getDim() << " became reduce_scatter";
    rewriter.replaceOpWithNewOp<ReduceScatterOp>(
        slice, reduce.getInput(), reduce.getReduction(), reduce.getAxis(),
        reduce.getGroupSize(), slice.getDim());
    return success();
  }
};

/// Removes collectives over one rank with a remark; runs before the
/// greedy driver, whose folders would remove them silently.
void elideSingleRank(Operation *root) {
  root->walk([](Operation *op) {
    auto group = op->getAttrOfType<IntegerAttr>("group_size");
    if (!isa<AllReduceOp, AllGatherOp, AllToAllOp, ReduceScatterOp,
             ShardSliceOp>(op) ||
        !group || group.getInt() != 1)
      return;
    op->emitRemark() << "rose-collective-simplify: elided "
                     << op->getName().stripDialect() << " over one rank";
    op->getResult(0).replaceAllUsesWith(op->getOperand(0));
    op->erase();
  });
}

struct RoseCollectiveSimplifyPass
    : public mlir::rose::impl::RoseCollectiveSimplifyBase<
          RoseCollectiveSimplifyPass> {
  void runOnOperation() override {
    elideSingleRank(getOperation());
    RewritePatternSet patterns(&getContext());
    populateCollectiveSimplifyPatterns(patterns);
    if (failed(
            applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace

void mlir::rose::populateCollectiveSimplifyPatterns(
    RewritePatternSet &patterns) {
  patterns.add<GatherThenSlice, SliceThenGather, ReduceThenSlice>(
      patterns.getContext());
}
