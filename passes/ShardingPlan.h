//===- ShardingPlan.h - which layer is sharded how --------------*- C++ -*-===//
#ifndef ROSE_PASSES_SHARDINGPLAN_H
#define ROSE_PASSES_SHARDINGPLAN_H

#include "dialect/RoseOps.h"

#include "llvm/Support/GlobPattern.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mlir::rose {

/// How one layer (a matmul or an embedding) is parallelized, in the spirit of
/// PyTorch's `parallelize_module` styles.
enum class ShardStyle {
  Replicate,        // every rank holds the whole weight
  Colwise,          // split output features; fused QKV is split by heads
  ColwiseGather,    // split output features contiguously, gather the output
  Rowwise,          // split input features; partial sums are all-reduced
  Vocab,            // embedding rows split by vocab; masked lookup + all_reduce
  SequenceParallel, // a norm runs on this rank's tokens (split on dim 1)
};

std::optional<ShardStyle> parseShardStyle(llvm::StringRef name);
llvm::StringRef stringifyShardStyle(ShardStyle style);

/// The canonical layer name of an op: the weight's checkpoint name without
/// `.weight` and without a `transformer.` prefix ("h.0.attn.c_attn"), or
/// "lm_head" for the matmul that produces the function's result.
std::string layerName(Operation *op);

/// The block a layer belongs to ("h.3" for "h.3.mlp.c_fc"), for reports.
std::string blockName(llvm::StringRef layer);

/// Maps layers to styles: either recognised from the GPT structure, or from
/// name globs (a JSON plan file).
class ShardingPlan {
public:
  /// Recognises the GPT structure: QKV and fc1 column-parallel (QKV by heads,
  /// or gathered with `rosellmQKV`), out-proj and fc2 row-parallel, LM head
  /// column-parallel, embeddings replicated or vocab-parallel.
  static ShardingPlan automatic(bool rosellmQKV, bool vocabParallel);
  /// Reads {"glob": "style", ...}; the first matching glob wins.
  static FailureOr<ShardingPlan> fromFile(llvm::StringRef path,
                                          std::string &error);

  /// The style of a matmul, embedding or norm op.
  ShardStyle styleOf(Operation *op) const;
  /// A plan file's `output_layouts` for the op's layer: -1 replicate, d >= 0
  /// shard(d); nullopt when the file says nothing (the style's default).
  std::optional<int64_t> outputLayoutOf(Operation *op) const;
  /// True for `auto` and `rosellm` (styles recognised from the structure).
  bool isStructural() const { return structural; }

private:
  ShardStyle structuralStyle(Operation *op) const;

  bool structural = true;
  bool rosellmQKV = false;
  bool vocabParallel = false;
  struct Rule {
    // GlobPattern keeps StringRefs into its pattern: the text must outlive it.
    std::shared_ptr<std::string> text;
    llvm::GlobPattern glob;
    ShardStyle style;
    std::optional<int64_t> output;
  };
  const Rule *ruleFor(Operation *op) const;
  std::vector<Rule> rules;
};

} // namespace mlir::rose

#endif // ROSE_PASSES_SHARDINGPLAN_H
