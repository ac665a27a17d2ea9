//===- Passes.td - rose passes -----------------------------*- tablegen -*-===//
#ifndef ROSE_PASSES_TD
#define ROSE_PASSES_TD

include "mlir/Pass/PassBase.td"

def RoseTPShard : Pass<"rose-tp-shard", "::mlir::ModuleOp"> {
  let summary = "Shard a GPT for tensor parallelism (Megatron column/row)";
  let description = [{
    Rewrites the dense `@forward` into the SPMD function every TP rank runs.
    Weights get a `slice` saying how each rank cuts them from the checkpoint;
    values flow as replicated, split or partial-sum, and collectives are
    inserted where a consumer needs another layout (each with a remark: which
    op, why, bytes per rank). Plans: `auto` (recognise the GPT structure:
    fused QKV and fc1 column-parallel, attention on local heads, out-proj and
    fc2 row-parallel, LM head column-parallel on vocab), `rosellm` (QKV
    gathered, out-proj slicing its replicated input), or a JSON plan file
    mapping layer-name globs to styles.
  }];
  let options = [
    Option<"tp", "tp", "int64_t", "1", "TP degree (ranks)">,
    Option<"plan", "plan", "std::string", "\"auto\"",
           "auto | rosellm | file (with plan-file)">,
    Option<"planFile", "plan-file", "std::string", "\"\"",
           "JSON plan file mapping layer globs to styles (colwise, "
           "colwise_gather, rowwise, replicate, vocab)">,
    Option<"vocabParallel", "vocab-parallel", "bool", "false",
           "shard the token embedding by vocab rows (masked lookup + all_reduce)">,
    Option<"lmHead", "lm-head", "std::string", "\"gather\"",
           "gather: all_gather the logits; sharded: leave them split by vocab">,
    Option<"sequenceParallel", "sequence-parallel", "bool", "false",
           "split LayerNorm/residual regions on the sequence dim">,
  ];
  let dependentDialects = ["::mlir::rose::RoseDialect"];
}

def RoseCollectiveSimplify : Pass<"rose-collective-simplify"> {
  let summary = "Elide and merge redundant collectives";
  let description = [{
    all_gather then shard_slice on the same dim -> nothing; shard_slice then
    all_gather -> nothing; all_reduce then shard_slice -> reduce_scatter;
    collectives over one rank vanish. Every rewrite emits a remark.
  }];
  let dependentDialects = ["::mlir::rose::RoseDialect"];
}

def RoseCommReport : Pass<"rose-comm-report", "::mlir::ModuleOp"> {
  let summary = "Print the collectives and bytes per rank of each block";
  let options = [
    Option<"output", "output", "std::string", "\"-\"",
           "where to write the report (- for stdout)">,
  ];
}

#endif // ROSE_PASSES_TD
