//===- Passes.td - rose passes -----------------------------*- tablegen -*-===//
#ifndef ROSE_PASSES_TD
#define ROSE_PASSES_TD

include "mlir/Pass/PassBase.td"

def RoseShardSeed : Pass<"rose-shard-seed", "::mlir::ModuleOp"> {
  let summary = "Annotate a model with a TP plan's shardings";
  let description = [{
    The first step of `--rose-tp-shard`: records the mesh (`rose.mesh`) and
    turns a plan into `rose.sharding` annotations on the layers it shards
    (priority 1; annotations already in the input are kept, and win at their
    default priority 0). Plans: `auto` (recognise the roles by structure: a
    matmul feeding split -> attention is QKV, colwise by heads; one feeding
    an activation is an MLP up-projection, colwise; one consuming attention
    or an activation is rowwise; the one producing the result is the LM head,
    colwise), `rosellm` (QKV gathered), or a JSON plan file mapping layer-name
    globs to styles. Checks that the plan fits the TP degree.
  }];
  let options = [
    Option<"tp", "tp", "int64_t", "1", "TP degree (ranks)">,
    Option<"dp", "dp", "int64_t", "1",
           "data-parallel degree: the batch splits over a 'dp' mesh axis">,
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

def RoseShardPropagate : Pass<"rose-shard-propagate", "::mlir::ModuleOp"> {
  let summary = "Give every value a sharding from the annotations and op rules";
  let description = [{
    Walks each function in order; at each op, the op's annotation or an
    operand's layout, whichever has the strongest priority, picks the factor
    of the op's sharding rule that the mesh axis splits. Records the result
    layouts (`rose.sharding`) with their origin and priority. Ops without a
    rule run replicated, with a remark when that gathers a sharded operand.
  }];
  let options = [
    Option<"axis", "axis", "std::string", "\"tp\"",
           "the mesh axis to propagate over">,
    Option<"sequenceDim", "sequence-dim", "int64_t", "-1",
           "partial sums settle split on this dim (sequence parallelism); "
           "-1: replicated">,
  ];
  let dependentDialects = ["::mlir::rose::RoseDialect"];
}

def RoseShardExplain : Pass<"rose-shard-explain"> {
  let summary = "Say why each value is sharded as it is (remarks)";
}

def RoseShardPartition : Pass<"rose-shard-partition", "::mlir::ModuleOp"> {
  let summary = "Rewrite propagated functions into the per-rank SPMD program";
  let description = [{
    Rebuilds every op on local operands: operands in another layout than the
    op's rule needs go through one reshard routine (all_reduce,
    reduce_scatter, all_gather, all_to_all, shard_slice; each with a remark naming the
    layer, the reason and the bytes per rank); split params get a
    `#rose.slice`; op attributes that count a split dim are localized.
  }];
  let options = [
    Option<"axis", "axis", "std::string", "\"tp\"",
           "the mesh axis to partition over">,
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

def RoseRaise : Pass<"rose-raise", "::mlir::ModuleOp"> {
  let summary = "Recognise fused layers (attention, GELU, SiLU) in primitive ops";
  let description = [{
    Rewrites what an op-by-op ONNX import spells out into rose's fused ops,
    where it can prove they agree: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715
    x^3))) and 0.5 x (1 + erf(x / sqrt 2)) in any order of the products ->
    gelu; x * sigmoid(x) -> silu; (x - mean) / sqrt(var + eps) * w + b ->
    layer_norm; a transpose of a matmul's rhs swapping its
    last two dims -> transpose_rhs; heads split by reshape/transpose, q k^T
    scaled by a constant, an optional causal mask (a where whose condition,
    a function of positions only, is evaluated and checked at several
    sequence lengths, filling -inf or the float minimum), softmax, times v,
    heads merged back -> attention. Anything not raised stays as it was
    (correct, slower), with a remark saying which pattern did not complete.
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
