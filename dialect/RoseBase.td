//===- RoseBase.td - rose dialect, enums and attributes ---*- tablegen -*-===//
#ifndef ROSE_DIALECT_ROSEBASE_TD
#define ROSE_DIALECT_ROSEBASE_TD

include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"
include "mlir/IR/OpBase.td"

def Rose_Dialect : Dialect {
  let name = "rose";
  let cppNamespace = "::mlir::rose";
  let summary = "Tensor ops, collectives and sharding for tensor-parallel GPT models";
  let description = [{
    The rose dialect describes a GPT forward pass at the level an ONNX export or
    a Hugging Face checkpoint does (embedding, linear layers, layer norm, GELU,
    causal attention, shape ops), plus the collectives and the sharding
    annotation that tensor-parallel (TP) rewriting introduces. Weights are never
    stored in the IR: `rose.param` names a tensor in a checkpoint.

    Ops are SPMD: after sharding, one function describes the program every TP
    rank runs; collectives name the TP axis and its size.
  }];
  let useDefaultAttributePrinterParser = 1;
  let hasConstantMaterializer = 1;
  let hasOperationAttrVerify = 1;
  let extraClassDeclaration = [{
    /// Name of the discardable attribute that records the sharding of an op's
    /// results (a #rose.shard, or an array of them for multi-result ops).
    static constexpr ::llvm::StringLiteral kShardingAttrName = "rose.sharding";
    /// Layout a result is handed to its users in, when a plan asks for
    /// another than the op's own (colwise_gather: computed split, gathered).
    static constexpr ::llvm::StringLiteral kShardingOutAttrName =
        "rose.sharding_out";
    /// Why a value has its sharding ("'h.0.mlp.c_fc' (plan: colwise)"):
    /// written by plans and propagation, printed by --rose-shard-explain.
    static constexpr ::llvm::StringLiteral kShardingOriginAttrName =
        "rose.sharding_origin";
    /// Priority of a sharding annotation: 0 is the strongest (user-written
    /// annotations default to 0; plans seed at 1; propagation carries the
    /// priority of the annotation a layout came from).
    static constexpr ::llvm::StringLiteral kShardingPriorityAttrName =
        "rose.sharding_priority";
    /// The annotation may split a paddable factor unevenly (the last chunk
    /// padded with zeros): vocab rows, and gathered LM-head columns.
    static constexpr ::llvm::StringLiteral kShardingPadAttrName =
        "rose.sharding_pad";

    /// Module attribute: path of the safetensors file the params name.
    static constexpr ::llvm::StringLiteral kWeightsAttrName = "rose.weights";
    /// Module attribute: the model's hyperparameters (config.json names).
    static constexpr ::llvm::StringLiteral kModelConfigAttrName =
        "rose.gpt_config";
    /// Module attribute: the TP degree the module was sharded for.
    static constexpr ::llvm::StringLiteral kTPAttrName = "rose.tp";
  }];
}

//===----------------------------------------------------------------------===//
// Enums
//===----------------------------------------------------------------------===//

def Rose_ShardKind : I32EnumAttr<"ShardKind",
    "how a value is laid out over a TP axis", [
      I32EnumAttrCase<"Replicated", 0, "replicated">,
      I32EnumAttrCase<"Split", 1, "split">,
      I32EnumAttrCase<"Partial", 2, "partial">]> {
  let cppNamespace = "::mlir::rose";
  let genSpecializedAttr = 0;
}

def Rose_GeluApproximation : I32EnumAttr<"GeluApproximation",
    "GELU formula: exact (erf) or the tanh approximation", [
      I32EnumAttrCase<"None", 0, "erf">,
      I32EnumAttrCase<"Tanh", 1, "tanh">]> {
  let cppNamespace = "::mlir::rose";
}

def Rose_ReductionKind : I32EnumAttr<"ReductionKind",
    "reduction an all_reduce / reduce_scatter applies", [
      I32EnumAttrCase<"Sum", 0, "sum">]> {
  let cppNamespace = "::mlir::rose";
}

def Rose_ReduceKind : I32EnumAttr<"ReduceKind", "what rose.reduce computes over its axis", [
      I32EnumAttrCase<"Sum", 0, "sum">,
      I32EnumAttrCase<"Mean", 1, "mean">,
      I32EnumAttrCase<"Max", 2, "max">]> {
  let cppNamespace = "::mlir::rose";
}

//===----------------------------------------------------------------------===//
// Attributes
//===----------------------------------------------------------------------===//

def Rose_ShardingAttr : AttrDef<Rose_Dialect, "Sharding"> {
  let mnemonic = "shard";
  let summary = "layout of a value over a tensor-parallel axis";
  let description = [{
    `replicated`: every rank holds the whole value. `split = d`: rank r holds
    the r-th equal chunk of dim d (with `groups = G`: the r-th chunk of each
    of G interleaved groups of dim d, as a fused QKV split by heads is).
    `partial`: every rank holds a full-shaped addend; the value is their sum
    (an all_reduce is pending). The axis defaults to "tp". On an op, the
    `rose.sharding` attribute holds the layout of its result (an array for
    several results): written by a user or a plan, it seeds
    `--rose-shard-propagate`, which records one on every op.

    ```mlir
    #rose.shard<replicated>
    #rose.shard<split = 2>
    #rose.shard<split = 2, groups = 3>
    #rose.shard<partial, axis = "tp">
    ```
  }];
  let parameters = (ins "ShardKind":$kind, "int64_t":$dim,
                        StringRefParameter<"TP axis name">:$axis,
                        DefaultValuedParameter<"int64_t", "1">:$groups);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    static ShardingAttr getReplicated(::mlir::MLIRContext *context,
                                      ::llvm::StringRef axis = "tp");
    static ShardingAttr getSplit(::mlir::MLIRContext *context, int64_t dim,
                                 ::llvm::StringRef axis = "tp",
                                 int64_t groups = 1);
    static ShardingAttr getPartial(::mlir::MLIRContext *context,
                                   ::llvm::StringRef axis = "tp");
    bool isReplicated() const { return getKind() == ShardKind::Replicated; }
    bool isSplit() const { return getKind() == ShardKind::Split; }
    bool isPartial() const { return getKind() == ShardKind::Partial; }
  }];
}

def Rose_WeightSliceAttr : AttrDef<Rose_Dialect, "WeightSlice"> {
  let mnemonic = "slice";
  let summary = "how a TP rank's param is cut from the checkpoint tensor";
  let description = [{
    The checkpoint tensor has shape `full`. Its dim `dim` is viewed as
    `groups` equal groups; in each group, TP rank r of `parts` takes the r-th
    of `parts` equal chunks, and the rank's tensor is the concatenation over
    the groups. `groups = 1` is a contiguous split (rank r starts at
    r * ceil(full[dim] / parts), and when `parts` does not divide the dim the
    last chunk is padded with zeros); `groups = 3` on a fused QKV weight gives
    each rank its own heads of q, k and v (no padding). With `replicas = n`
    (grouped-query attention over more ranks than kv heads), `parts` chunks
    serve `parts x n` ranks: rank r takes chunk r / n, so n consecutive
    ranks hold the same kv head. The runtime loads slices straight from the
    checkpoint with this.

    ```mlir
    %w = rose.param "h.0.attn.c_attn.weight" slice <dim = 1, parts = 2, groups = 3, full = [768, 2304]> : tensor<768x1152xf32>
    ```
  }];
  let parameters = (ins "int64_t":$dim, "int64_t":$parts, "int64_t":$groups,
                        ArrayRefParameter<"int64_t">:$full,
                        DefaultValuedParameter<"int64_t", "1">:$replicas);
  let assemblyFormat = [{
    `<` `dim` `=` $dim `,` `parts` `=` $parts `,` `groups` `=` $groups `,` `full` `=` `[` $full `]` (`,` `replicas` `=` $replicas^)? `>`
  }];
  let genVerifyDecl = 1;
}

#endif // ROSE_DIALECT_ROSEBASE_TD
