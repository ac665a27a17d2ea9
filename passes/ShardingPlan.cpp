//===- ShardingPlan.cpp - which layer is sharded how
//-----------------------===//
#include "passes/ShardingPlan.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/Support/MemoryBuffer.h"
#include <nlohmann/json.hpp>

using namespace mlir;
using namespace mlir::rose;

std::optional<ShardStyle> mlir::rose::parseShardStyle(llvm::StringRef name) {
  return llvm::StringSwitch<std::optional<ShardStyle>>(name)
      .Case("replicate", ShardStyle::Replicate)
      .Case("colwise", ShardStyle::Colwise)
      .Case("colwise_gather", ShardStyle::ColwiseGather)
      .Case("rowwise", ShardStyle::Rowwise)
      .Case("vocab", ShardStyle::Vocab)
      .Case("sequence_parallel", ShardStyle::SequenceParallel)
      .Default(std::nullopt);
}

llvm::StringRef mlir::rose::stringifyShardStyle(ShardStyle style) {
  switch (style) {
  case ShardStyle::Replicate:
    return "replicate";
  case ShardStyle::Colwise:
    return "colwise";
  case ShardStyle::ColwiseGather:
    return "colwise_gather";
  case ShardStyle::Rowwise:
    return "rowwise";
  case ShardStyle::Vocab:
    return "vocab";
  case ShardStyle::SequenceParallel:
    return "sequence_parallel";
  }
  return "?";
}

/// True when `v` is returned from its function.
static bool isReturned(Value v) {
  return llvm::any_of(v.getUsers(),
                      [](Operation *u) { return isa<func::ReturnOp>(u); });
}

std::string mlir::rose::layerName(Operation *op) {
  Value weight;
  if (auto mm = dyn_cast<MatMulOp>(op)) {
    if (isReturned(mm.getResult()))
      return "lm_head";
    weight = mm.getRhs();
  } else if (auto emb = dyn_cast<EmbeddingOp>(op)) {
    weight = emb.getTable();
  } else if (auto ln = dyn_cast<LayerNormOp>(op)) {
    weight = ln.getScale();
  } else if (auto rms = dyn_cast<RmsNormOp>(op)) {
    weight = rms.getScale();
  }
  auto param = weight ? weight.getDefiningOp<ParamOp>() : ParamOp();
  if (!param)
    return op->getName().stripDialect().str();
  llvm::StringRef name = param.getName();
  name.consume_front("transformer.");
  name.consume_back(".weight");
  return name.str();
}

std::string mlir::rose::blockName(llvm::StringRef layer) {
  // "h.3.mlp.c_fc" -> "h.3"; "model.layers.3.mlp.up_proj" -> "layers.3".
  layer.consume_front("model.");
  for (llvm::StringRef prefix : {"h.", "layers."})
    if (layer.starts_with(prefix)) {
      size_t dot = layer.find('.', prefix.size());
      return layer.substr(0, dot).str();
    }
  return layer.str();
}

/// "replicate" -> -1, "shard(d)" -> d (PyTorch's Replicate() / Shard(d),
/// either case, parentheses optional for replicate).
static std::optional<int64_t> parseLayout(llvm::StringRef text) {
  std::string lower = text.lower();
  llvm::StringRef t(lower);
  if (t == "replicate" || t == "replicate()")
    return -1;
  int64_t dim;
  if (t.consume_front("shard(") && t.consume_back(")") &&
      !t.getAsInteger(10, dim) && dim >= 0)
    return dim;
  return std::nullopt;
}

ShardingPlan ShardingPlan::automatic(bool rosellmQKV, bool vocabParallel) {
  ShardingPlan plan;
  plan.structural = true;
  plan.rosellmQKV = rosellmQKV;
  plan.vocabParallel = vocabParallel;
  return plan;
}

FailureOr<ShardingPlan> ShardingPlan::fromFile(llvm::StringRef path,
                                               std::string &error) {
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer) {
    error = (path + ": cannot read plan file: " + buffer.getError().message())
                .str();
    return failure();
  }
  nlohmann::json json = nlohmann::json::parse(
      (*buffer)->getBufferStart(), (*buffer)->getBufferEnd(), nullptr,
      /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    error = (path + ": plan file is not a JSON object").str();
    return failure();
  }
  ShardingPlan plan;
  plan.structural = false;
  for (auto it = json.begin(); it != json.end(); ++it) {
    std::string where = (path + ": layer '" + it.key() + "': ").str();
    // "style", or {"style": ..., "output_layouts": "replicate" | "shard(d)"}
    // as PyTorch's ParallelStyle(output_layouts=...) says it.
    const nlohmann::json *styleJson = &*it;
    std::optional<int64_t> output;
    if (it->is_object()) {
      for (auto field = it->begin(); field != it->end(); ++field)
        if (field.key() != "style" && field.key() != "output_layouts") {
          error = where + "unknown key '" + field.key() +
                  "' (style, output_layouts)";
          return failure();
        }
      if (!it->contains("style")) {
        error = where + "needs a \"style\"";
        return failure();
      }
      styleJson = &(*it)["style"];
      if (it->contains("output_layouts")) {
        const nlohmann::json &layout = (*it)["output_layouts"];
        output = layout.is_string() ? parseLayout(layout.get<std::string>())
                                    : std::nullopt;
        if (!output) {
          error = where + "output_layouts must be \"replicate\" or "
                          "\"shard(d)\"";
          return failure();
        }
      }
    }
    std::optional<ShardStyle> style =
        styleJson->is_string() ? parseShardStyle(styleJson->get<std::string>())
                               : std::nullopt;
    if (!style) {
      error = where + "style must be one of colwise, colwise_gather, rowwise, "
                      "replicate, vocab, sequence_parallel";
      return failure();
    }
    auto text = std::make_shared<std::string>(it.key());
    llvm::Expected<llvm::GlobPattern> glob = llvm::GlobPattern::create(*text);
    if (!glob) {
      error = where + "bad glob: " + llvm::toString(glob.takeError());
      return failure();
    }
    plan.rules.push_back({text, std::move(*glob), *style, output});
  }
  return plan;
}

const ShardingPlan::Rule *ShardingPlan::ruleFor(Operation *op) const {
  std::string layer = layerName(op);
  for (const Rule &rule : rules)
    if (rule.glob.match(layer))
      return &rule;
  return nullptr;
}

std::optional<int64_t> ShardingPlan::outputLayoutOf(Operation *op) const {
  const Rule *rule = structural ? nullptr : ruleFor(op);
  return rule ? rule->output : std::nullopt;
}

ShardStyle ShardingPlan::styleOf(Operation *op) const {
  if (structural)
    return structuralStyle(op);
  const Rule *rule = ruleFor(op);
  return rule ? rule->style : ShardStyle::Replicate;
}

/// True when `v` is split into equal pieces that all feed one attention.
/// (Separate q/k/v projections are recognised in structuralStyle.)
static bool feedsAttentionSplit(Value v) {
  for (Operation *user : v.getUsers()) {
    auto split = dyn_cast<SplitOp>(user);
    if (!split || split.getNumResults() != 3)
      continue;
    if (llvm::all_of(split.getResults(), [](Value piece) {
          return llvm::all_of(piece.getUsers(),
                              [](Operation *u) { return isa<AttentionOp>(u); });
        }))
      return true;
  }
  return false;
}

ShardStyle ShardingPlan::structuralStyle(Operation *op) const {
  if (auto emb = dyn_cast<EmbeddingOp>(op)) {
    // Token embeddings index with the input ids; position embeddings with
    // rose.positions and stay replicated (they are small).
    bool tokens = isa<BlockArgument>(emb.getIndices());
    return tokens && vocabParallel ? ShardStyle::Vocab : ShardStyle::Replicate;
  }
  auto mm = dyn_cast<MatMulOp>(op);
  if (!mm || !mm.getRhs().getDefiningOp<ParamOp>())
    return ShardStyle::Replicate;
  if (isReturned(mm.getResult()))
    return ShardStyle::Colwise;
  if (feedsAttentionSplit(mm.getResult()))
    return rosellmQKV ? ShardStyle::ColwiseGather : ShardStyle::Colwise;
  auto isActivation = [](Operation *op) {
    return op && isa<GeluOp, ReluOp, SiluOp>(op);
  };
  // A gated MLP's up projection: multiplied by an activation.
  auto isGate = [&](Operation *op) {
    return isa_and_nonnull<MulOp>(op) &&
           llvm::any_of(op->getOperands(), [&](Value v) {
             return isActivation(v.getDefiningOp());
           });
  };
  // q/k/v projections (into attention, directly or through rotary), MLP
  // up/gate projections (into an activation, or the gating product).
  if (llvm::any_of(mm.getResult().getUsers(), [&](Operation *u) {
        return isa<AttentionOp, RotaryOp>(u) || isActivation(u) || isGate(u);
      }))
    return ShardStyle::Colwise;
  // Out-projections: of attention, of an activation, of a gated product.
  Operation *producer = mm.getLhs().getDefiningOp();
  if (producer && (isa<AttentionOp>(producer) || isActivation(producer) ||
                   isGate(producer)))
    return ShardStyle::Rowwise;
  return ShardStyle::Replicate;
}
