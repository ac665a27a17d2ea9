//===- GPTBuilder.cpp - emit rose IR for a GPT-2 configuration
//-------------===//
#include "frontend/GPTBuilder.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

using namespace mlir;
using namespace mlir::rose;

std::vector<std::pair<std::string, std::vector<int64_t>>>
mlir::rose::expectedGPT2Tensors(const GPTConfig &c) {
  int64_t d = c.dModel;
  std::vector<std::pair<std::string, std::vector<int64_t>>> out = {
      {"wte.weight", {c.vocabSize, d}}, {"wpe.weight", {c.maxPositions, d}}};
  for (int64_t i = 0; i < c.numLayers; ++i) {
    std::string h = "h." + std::to_string(i) + ".";
    out.push_back({h + "ln_1.weight", {d}});
    out.push_back({h + "ln_1.bias", {d}});
    out.push_back({h + "attn.c_attn.weight", {d, 3 * d}});
    out.push_back({h + "attn.c_attn.bias", {3 * d}});
    out.push_back({h + "attn.c_proj.weight", {d, d}});
    out.push_back({h + "attn.c_proj.bias", {d}});
    out.push_back({h + "ln_2.weight", {d}});
    out.push_back({h + "ln_2.bias", {d}});
    out.push_back({h + "mlp.c_fc.weight", {d, c.dFF}});
    out.push_back({h + "mlp.c_fc.bias", {c.dFF}});
    out.push_back({h + "mlp.c_proj.weight", {c.dFF, d}});
    out.push_back({h + "mlp.c_proj.bias", {d}});
  }
  out.push_back({"ln_f.weight", {d}});
  out.push_back({"ln_f.bias", {d}});
  if (!c.tiedLMHead)
    out.push_back({"lm_head.weight", {c.vocabSize, d}});
  return out;
}

namespace {
/// Emits one GPT-2 forward function; keeps the builder and naming together.
class Emitter {
public:
  Emitter(OpBuilder &b, const GPTConfig &c, Type element,
          const std::function<std::string(StringRef)> &name)
      : b(b), c(c), element(element), name(name), loc(b.getUnknownLoc()) {}

  Value param(StringRef canonical, ArrayRef<int64_t> shape) {
    return b.create<ParamOp>(loc, RankedTensorType::get(shape, element),
                             name(canonical));
  }

  Value layerNorm(Value x, const std::string &prefix) {
    Value w = param(prefix + ".weight", {c.dModel});
    Value bias = param(prefix + ".bias", {c.dModel});
    // Frameworks hold epsilon as float32; use the value they compute with,
    // so imports from ONNX and from checkpoints agree exactly.
    double eps = static_cast<float>(c.layerNormEps);
    return b.create<LayerNormOp>(loc, x, w, bias, b.getF64FloatAttr(eps));
  }

  Value linear(Value x, const std::string &prefix, int64_t in, int64_t out) {
    Value w = param(prefix + ".weight", {in, out});
    Value bias = param(prefix + ".bias", {out});
    return b.create<MatMulOp>(loc, x, w, bias, /*transpose_rhs=*/false);
  }

  Value block(Value x, int64_t i) {
    std::string h = "h." + std::to_string(i) + ".";
    int64_t d = c.dModel;
    Value qkv = linear(layerNorm(x, h + "ln_1"), h + "attn.c_attn", d, 3 * d);
    auto split = b.create<SplitOp>(loc, qkv, 2, ArrayRef<int64_t>{d, d, d});
    Value attn = b.create<AttentionOp>(loc, split.getResult(0),
                                       split.getResult(1), split.getResult(2),
                                       c.numHeads, /*causal=*/true, nullptr);
    Value r1 = b.create<AddOp>(loc, x, linear(attn, h + "attn.c_proj", d, d));
    Value fc = linear(layerNorm(r1, h + "ln_2"), h + "mlp.c_fc", d, c.dFF);
    Value act = c.relu ? b.create<ReluOp>(loc, fc).getResult()
                       : b.create<GeluOp>(loc, fc, c.gelu).getResult();
    return b.create<AddOp>(loc, r1, linear(act, h + "mlp.c_proj", c.dFF, d));
  }

  Value forward(Value ids) {
    Value wte = param("wte.weight", {c.vocabSize, c.dModel});
    Value tok = b.create<EmbeddingOp>(loc, wte, ids, nullptr);
    Value pos = b.create<PositionsOp>(loc, ids, 0);
    Value wpe = param("wpe.weight", {c.maxPositions, c.dModel});
    Value x = b.create<AddOp>(loc, tok,
                              b.create<EmbeddingOp>(loc, wpe, pos, nullptr));
    for (int64_t i = 0; i < c.numLayers; ++i)
      x = block(x, i);
    x = layerNorm(x, "ln_f");
    Value head =
        c.tiedLMHead ? wte : param("lm_head.weight", {c.vocabSize, c.dModel});
    return b.create<MatMulOp>(loc, x, head, Value(), /*transpose_rhs=*/true);
  }

private:
  OpBuilder &b;
  const GPTConfig &c;
  Type element;
  const std::function<std::string(StringRef)> &name;
  Location loc;
};
} // namespace

OwningOpRef<ModuleOp>
mlir::rose::buildGPT2(MLIRContext &context, const GPTConfig &config,
                      Type elementType, StringRef weightsPath,
                      const std::function<std::string(StringRef)> &name) {
  context.loadDialect<RoseDialect, func::FuncDialect>();
  OpBuilder b(&context);
  Location loc = b.getUnknownLoc();
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  module->getOperation()->setAttr(RoseDialect::kWeightsAttrName,
                                  b.getStringAttr(weightsPath));
  module->getOperation()->setAttr(
      RoseDialect::kModelConfigAttrName,
      b.getDictionaryAttr({
          b.getNamedAttr("vocab_size", b.getI64IntegerAttr(config.vocabSize)),
          b.getNamedAttr("n_positions",
                         b.getI64IntegerAttr(config.maxPositions)),
          b.getNamedAttr("n_embd", b.getI64IntegerAttr(config.dModel)),
          b.getNamedAttr("n_layer", b.getI64IntegerAttr(config.numLayers)),
          b.getNamedAttr("n_head", b.getI64IntegerAttr(config.numHeads)),
          b.getNamedAttr("n_inner", b.getI64IntegerAttr(config.dFF)),
      }));
  b.setInsertionPointToEnd(module->getBody());
  auto ids = RankedTensorType::get({ShapedType::kDynamic, ShapedType::kDynamic},
                                   b.getI64Type());
  auto logits = RankedTensorType::get(
      {ShapedType::kDynamic, ShapedType::kDynamic, config.vocabSize},
      elementType);
  auto fn = b.create<func::FuncOp>(loc, "forward",
                                   b.getFunctionType({ids}, {logits}));
  Block *body = fn.addEntryBlock();
  b.setInsertionPointToEnd(body);
  Emitter emitter(b, config, elementType, name);
  b.create<func::ReturnOp>(loc, emitter.forward(body->getArgument(0)));
  return module;
}
