//===- DialectTest.cpp - rose dialect C++ API tests
//-------------------------===//
//
// What lit tests cannot reach: builders that infer result types, and
// attribute invariants that the textual parser cannot violate.
//
//===----------------------------------------------------------------------===//
#include "dialect/RoseOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"

#include <gtest/gtest.h>

using namespace mlir;
using namespace mlir::rose;

namespace {

class DialectTest : public ::testing::Test {
protected:
  DialectTest() : builder(&context) {
    context.loadDialect<RoseDialect, func::FuncDialect>();
    module = ModuleOp::create(builder.getUnknownLoc());
    builder.setInsertionPointToEnd(module->getBody());
  }

  Value param(StringRef name, ArrayRef<int64_t> shape) {
    return builder.create<ParamOp>(loc(), RankedTensorType::get(shape, f32()),
                                   name);
  }
  Type f32() { return builder.getF32Type(); }
  Location loc() { return builder.getUnknownLoc(); }

  MLIRContext context;
  OpBuilder builder;
  OwningOpRef<ModuleOp> module;
};

TEST_F(DialectTest, BuildersInferResultTypes) {
  const int64_t dyn = ShapedType::kDynamic;
  Value x = param("x", {2, 5, 8});
  Value w = param("w", {8, 24});
  Value b = param("b", {24});
  auto mm = builder.create<MatMulOp>(loc(), x, w, b, /*transpose_rhs=*/false);
  EXPECT_EQ(mm.getType(), RankedTensorType::get({2, 5, 24}, f32()));

  auto split = builder.create<SplitOp>(loc(), mm.getResult(), 2,
                                       ArrayRef<int64_t>{8, 8, 8});
  ASSERT_EQ(split.getNumResults(), 3u);
  EXPECT_EQ(split.getResult(1).getType(),
            RankedTensorType::get({2, 5, 8}, f32()));

  auto attn = builder.create<AttentionOp>(
      loc(), split.getResult(0), split.getResult(1), split.getResult(2),
      /*num_heads=*/2, /*causal=*/true, /*scale=*/nullptr);
  EXPECT_EQ(attn.getType(), RankedTensorType::get({2, 5, 8}, f32()));

  auto gathered = builder.create<AllGatherOp>(loc(), attn.getResult(), "tp",
                                              /*group_size=*/4, /*dim=*/2);
  EXPECT_EQ(gathered.getType(), RankedTensorType::get({2, 5, 32}, f32()));

  auto reshaped = builder.create<ReshapeOp>(loc(), gathered.getResult(),
                                            ArrayRef<int64_t>{0, 0, 4, -1});
  EXPECT_EQ(reshaped.getType(), RankedTensorType::get({2, 5, 4, 8}, f32()));

  // Dynamic dims flow through.
  auto idsArg = RankedTensorType::get({dyn, dyn}, builder.getI64Type());
  auto fn = builder.create<func::FuncOp>(loc(), "f",
                                         builder.getFunctionType({idsArg}, {}));
  Block *body = fn.addEntryBlock();
  OpBuilder inner(body, body->end());
  Value table = inner.create<ParamOp>(
      loc(), RankedTensorType::get({100, 8}, f32()), "wte");
  auto emb = inner.create<EmbeddingOp>(loc(), table, body->getArgument(0),
                                       /*vocab_shards=*/nullptr);
  EXPECT_EQ(emb.getType(), RankedTensorType::get({dyn, dyn, 8}, f32()));
  inner.create<func::ReturnOp>(loc());
  EXPECT_TRUE(succeeded(verify(*module)));
}

TEST_F(DialectTest, InvalidOperandsInferUnrankedAndFailVerification) {
  Value x = param("x", {2, 64});
  Value w = param("w", {32, 16});
  auto mm = builder.create<MatMulOp>(loc(), x, w, Value(), false);
  EXPECT_TRUE(isa<UnrankedTensorType>(mm.getType()));
  // Ops built on the unranked result must not read a shape it lacks (a
  // fuzzed ONNX file crashed here): they infer unranked results too.
  auto add = builder.create<AddOp>(loc(), mm, x);
  EXPECT_TRUE(isa<UnrankedTensorType>(add.getType()));
  auto split =
      builder.create<SplitOp>(loc(), add, 1, ArrayRef<int64_t>{32, 32});
  EXPECT_EQ(split.getNumResults(), 2u);
  auto concat = builder.create<ConcatOp>(
      loc(), ValueRange{split.getResult(0), split.getResult(1)}, 1);
  EXPECT_TRUE(isa<UnrankedTensorType>(concat.getType()));
  std::string message;
  ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) {
    message = diag.str();
    return success();
  });
  EXPECT_TRUE(failed(verify(*module)));
  EXPECT_NE(message.find("must be ranked tensor"), std::string::npos)
      << message;
}

TEST_F(DialectTest, ShardingAttrInvariants) {
  std::string message;
  ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) {
    message = diag.str();
    return success();
  });
  auto emit = [&]() { return emitError(loc()); };
  // The parser cannot write a dim for these kinds; the C++ API could.
  EXPECT_TRUE(
      failed(ShardingAttr::verify(emit, ShardKind::Replicated, 1, "tp", 1)));
  EXPECT_EQ(message, "replicated sharding takes no dim");
  EXPECT_TRUE(
      failed(ShardingAttr::verify(emit, ShardKind::Partial, 0, "tp", 1)));
  EXPECT_EQ(message, "partial sharding takes no dim");
  EXPECT_TRUE(
      succeeded(ShardingAttr::verify(emit, ShardKind::Split, 2, "tp", 1)));
  EXPECT_TRUE(failed(ShardingAttr::verify(emit, ShardKind::Split, 2, "tp", 0)));
  EXPECT_TRUE(
      failed(ShardingAttr::verify(emit, ShardKind::Partial, -1, "tp", 3)));

  ShardingAttr split = ShardingAttr::getSplit(&context, 2);
  EXPECT_TRUE(split.isSplit());
  EXPECT_EQ(split.getDim(), 2);
  EXPECT_EQ(split.getAxis(), "tp");
  EXPECT_TRUE(ShardingAttr::getPartial(&context).isPartial());
  EXPECT_TRUE(ShardingAttr::getReplicated(&context, "dp").isReplicated());
}

} // namespace
