//===- Passes.h - rose passes and pipelines ---------------------*- C++ -*-===//
#ifndef ROSE_PASSES_PASSES_H
#define ROSE_PASSES_PASSES_H

#include "dialect/RoseOps.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassOptions.h"

namespace mlir::rose {

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

/// Collective elision patterns (also used by the pipeline).
void populateCollectiveSimplifyPatterns(RewritePatternSet &patterns);

/// Options of the `rose-tp-pipeline`: shard, simplify, canonicalize, CSE.
struct TPPipelineOptions : public PassPipelineOptions<TPPipelineOptions> {
  Option<int64_t> tp{*this, "tp", llvm::cl::desc("TP degree"),
                     llvm::cl::init(1)};
  Option<int64_t> dp{*this, "dp",
                     llvm::cl::desc("data-parallel degree (batch split)"),
                     llvm::cl::init(1)};
  Option<std::string> plan{*this, "plan",
                           llvm::cl::desc("auto | rosellm | file"),
                           llvm::cl::init("auto")};
  Option<std::string> planFile{
      *this, "plan-file", llvm::cl::desc("JSON plan file"), llvm::cl::init("")};
  Option<bool> vocabParallel{*this, "vocab-parallel",
                             llvm::cl::desc("vocab-parallel embedding"),
                             llvm::cl::init(false)};
  Option<std::string> lmHead{*this, "lm-head",
                             llvm::cl::desc("gather | sharded"),
                             llvm::cl::init("gather")};
  Option<bool> sequenceParallel{*this, "sequence-parallel",
                                llvm::cl::desc("sequence parallelism"),
                                llvm::cl::init(false)};
};

/// rose-tp-shard: seed the plan's annotations, propagate, partition.
void buildTPShardPipeline(OpPassManager &pm, const TPPipelineOptions &options);
/// rose-tp-pipeline: rose-tp-shard, then simplify, canonicalize, CSE.
void buildTPPipeline(OpPassManager &pm, const TPPipelineOptions &options);
void registerRosePipelines();

} // namespace mlir::rose

#endif // ROSE_PASSES_PASSES_H
