//===- Pipelines.cpp - the rose-tp-pipeline
//--------------------------------===//
#include "passes/Passes.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;
using namespace mlir::rose;

void mlir::rose::buildTPPipeline(OpPassManager &pm,
                                 const TPPipelineOptions &options) {
  RoseTPShardOptions shard;
  shard.tp = options.tp;
  shard.plan = options.plan;
  shard.planFile = options.planFile;
  shard.vocabParallel = options.vocabParallel;
  shard.lmHead = options.lmHead;
  shard.sequenceParallel = options.sequenceParallel;
  pm.addPass(createRoseTPShard(shard));
  pm.addPass(createRoseCollectiveSimplify());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

void mlir::rose::registerRosePipelines() {
  PassPipelineRegistration<TPPipelineOptions>(
      "rose-tp-pipeline",
      "Shard for tensor parallelism, simplify collectives, canonicalize, CSE",
      buildTPPipeline);
}
