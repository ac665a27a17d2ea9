//===- Pipelines.cpp - the rose-tp-pipeline
//--------------------------------===//
#include "passes/Passes.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;
using namespace mlir::rose;

void mlir::rose::buildTPShardPipeline(OpPassManager &pm,
                                      const TPPipelineOptions &options) {
  RoseShardSeedOptions seed;
  seed.tp = options.tp;
  seed.dp = options.dp;
  seed.plan = options.plan;
  seed.planFile = options.planFile;
  seed.vocabParallel = options.vocabParallel;
  seed.lmHead = options.lmHead;
  seed.sequenceParallel = options.sequenceParallel;
  pm.addPass(createRoseShardSeed(seed));
  RoseShardPropagateOptions propagate;
  // PyTorch's SequenceParallel shards dim 1 ([batch, seq, hidden]).
  propagate.sequenceDim = options.sequenceParallel ? 1 : -1;
  pm.addPass(createRoseShardPropagate(propagate));
  pm.addPass(createRoseShardPartition());
  // A 2-D mesh is sharded one axis at a time: the batch over dp on the
  // per-TP-rank function.
  if (options.dp > 1) {
    RoseShardPropagateOptions dpPropagate;
    dpPropagate.axis = "dp";
    pm.addPass(createRoseShardPropagate(dpPropagate));
    RoseShardPartitionOptions dpPartition;
    dpPartition.axis = "dp";
    pm.addPass(createRoseShardPartition(dpPartition));
  }
}

void mlir::rose::buildTPPipeline(OpPassManager &pm,
                                 const TPPipelineOptions &options) {
  buildTPShardPipeline(pm, options);
  pm.addPass(createRoseCollectiveSimplify());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

void mlir::rose::registerRosePipelines() {
  PassPipelineRegistration<TPPipelineOptions>(
      "rose-tp-shard",
      "Shard for tensor parallelism: seed the plan, propagate, partition",
      buildTPShardPipeline);
  PassPipelineRegistration<TPPipelineOptions>(
      "rose-tp-pipeline",
      "Shard for tensor parallelism, simplify collectives, canonicalize, CSE",
      buildTPPipeline);
}
