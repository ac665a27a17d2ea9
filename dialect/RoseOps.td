//===- RoseOps.td - rose dialect operations ---------------*- tablegen -*-===//
#ifndef ROSE_DIALECT_ROSEOPS_TD
#define ROSE_DIALECT_ROSEOPS_TD

include "dialect/RoseBase.td"
include "dialect/RoseShardingInterface.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

//===----------------------------------------------------------------------===//
// Type constraints and op classes
//===----------------------------------------------------------------------===//

def Rose_FloatTensor : RankedTensorOf<[F32, F16, BF16]>;

// Like I64Attr, but read back signed: axes may be negative, and a negative
// group size must not wrap around into a huge one.
def Rose_I64Attr : TypedSignlessIntegerAttrBase<
    I64, "int64_t", "64-bit signless integer attribute"> {
  let convertFromStorage = "$_self.getValue().getSExtValue()";
}
def Rose_IndexTensor : RankedTensorOf<[I32, I64]>;

// Every compute op infers its result type. Inference is best-effort: when the
// operands are inconsistent it yields an unranked tensor (compatible with any
// declared result) and the op's verifier reports the actual problem, so each
// mistake gets one message that names the operand and the numbers.
// Ops that declare a sharding rule (ShardingRule.h); the Local ones also
// rewrite attributes that count elements of a split dim.
defvar Rose_Shardable = DeclareOpInterfaceMethods<Rose_ShardingRuleOpInterface>;
defvar Rose_ShardableLocal = DeclareOpInterfaceMethods<
    Rose_ShardingRuleOpInterface, ["localizeAttributes"]>;

class Rose_Op<string mnemonic, list<Trait> traits = []>
    : Op<Rose_Dialect, mnemonic,
         !listconcat(traits, [Pure, InferTypeOpAdaptorWithIsCompatible])> {
  let hasVerifier = 1;
}

// Elementwise functions of one operand (ONNX's unary ops); every one is a
// pure map, so every dim may be split.
class Rose_UnaryOp<string mnemonic, string what>
    : Rose_Op<mnemonic, [Rose_Shardable]> {
  let summary = what;
  let arguments = (ins Rose_FloatTensor:$input);
  let results = (outs Rose_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

// rose has no boolean tensors: a comparison yields 1.0 where it holds and 0.0
// elsewhere, in the operands' element type, and `where` selects on nonzero.
// ONNX bool values import as such 0/1 tensors.
class Rose_BinaryOp<string mnemonic, list<Trait> traits = []>
    : Rose_Op<mnemonic, !listconcat(traits, [Rose_Shardable])> {
  let summary = "elementwise " # mnemonic # " with numpy broadcasting";
  let arguments = (ins Rose_FloatTensor:$lhs, Rose_FloatTensor:$rhs);
  let results = (outs Rose_FloatTensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs) `->` type($result)
  }];
}

// Collectives communicate over one TP axis of `group_size` ranks.
// Their sharding rules serve the other mesh axes (a dp-split batch passes
// through a TP all_reduce).
class Rose_CollectiveOp<string mnemonic, list<Trait> traits = []>
    : Rose_Op<mnemonic, !listconcat(traits, [Rose_Shardable])> {
  let results = (outs Rose_FloatTensor:$result);
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// The device mesh
//===----------------------------------------------------------------------===//

def Rose_MeshOp : Op<Rose_Dialect, "mesh", [Symbol, HasParent<"::mlir::ModuleOp">]> {
  let summary = "the device mesh a module is sharded for: named axes and sizes";
  let description = [{
    Ranks are numbered row-major over the axes (the last axis varies
    fastest), so with `tp` last the ranks of a TP group are adjacent.
    Collectives name the axis they run over; the runtime builds one group per
    slice of each axis. The axis named `dp` splits the batch.

    ```mlir
    rose.mesh @mesh(dp = 2, tp = 4)
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, StrArrayAttr:$axes,
                       DenseI64ArrayAttr:$sizes);
  let hasCustomAssemblyFormat = 1;
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// Size of the named axis, or nullopt.
    std::optional<int64_t> sizeOf(::llvm::StringRef axis);
    /// Index of the named axis, or -1.
    int64_t indexOf(::llvm::StringRef axis);
    /// The module's mesh, if it has one.
    static MeshOp find(::mlir::ModuleOp module);
  }];
}

//===----------------------------------------------------------------------===//
// Parameters and constants
//===----------------------------------------------------------------------===//

def Rose_ParamOp : Op<Rose_Dialect, "param", [Pure]> {
  let summary = "a model weight, named by its checkpoint tensor name";
  let description = [{
    Weights never live in the IR; a param names the tensor in the checkpoint
    that the runtime loads (or slices, after sharding).

    ```mlir
    %w = rose.param "h.0.attn.c_attn.weight" : tensor<768x2304xf32>
    ```

    After TP sharding, `slice` says how this rank's tensor is cut from the
    checkpoint tensor (see #rose.slice).

    `repeat = [dim, blocks, times]` (set by TP sharding before it partitions,
    for grouped-query attention over more ranks than kv heads): the tensor is
    the checkpoint's with dim `dim` cut into `blocks` equal blocks (kv heads),
    each repeated `times` times in place. Partitioning must split that dim
    into `blocks x times` parts: each rank then loads one block.

    ```mlir
    %wk = rose.param "model.layers.0.self_attn.k_proj.weight" repeat [0, 2, 2] : tensor<32x64xf32>
    ```
  }];
  let arguments = (ins StrAttr:$name, OptionalAttr<Rose_WeightSliceAttr>:$slice,
                       OptionalAttr<DenseI64ArrayAttr>:$repeat);
  let results = (outs Rose_FloatTensor:$result);
  let assemblyFormat = "$name (`slice` $slice^)? (`repeat` $repeat^)? attr-dict `:` type($result)";
  let builders = [
    OpBuilder<(ins "::mlir::Type":$type, "::llvm::StringRef":$name), [{
      build($_builder, $_state, type, name, WeightSliceAttr(),
            ::mlir::DenseI64ArrayAttr());
    }]>
  ];
  let hasVerifier = 1;
}

def Rose_ConstantOp : Op<Rose_Dialect, "constant",
    [ConstantLike, Pure, AllTypesMatch<["value", "result"]>]> {
  let summary = "a small constant tensor (scalars, masks); never a weight";
  let arguments = (ins ElementsAttr:$value);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "attr-dict $value";
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// Compute
//===----------------------------------------------------------------------===//

def Rose_EmbeddingOp : Rose_Op<"embedding", [Rose_ShardableLocal]> {
  let summary = "gathers rows of an embedding table";
  let description = [{
    `result[i..., :] = table[indices[i...], :]`. With `vocab_shards = N`, the
    table is TP rank r's slice of a vocab-parallel table, holding rows
    [r * rows, (r + 1) * rows): other ids give zero rows (a masked lookup whose
    partial results an all_reduce over the "tp" axis sums).

    ```mlir
    %x = rose.embedding %wte[%ids] : tensor<50257x768xf32>, tensor<?x?xi64> -> tensor<?x?x768xf32>
    ```
  }];
  let arguments = (ins Rose_FloatTensor:$table, Rose_IndexTensor:$indices,
                       OptionalAttr<Rose_I64Attr>:$vocab_shards);
  let results = (outs Rose_FloatTensor:$result);
  let assemblyFormat = [{
    $table `[` $indices `]` attr-dict `:` type($table) `,` type($indices) `->` type($result)
  }];
}

def Rose_PositionsOp : Rose_Op<"positions", [Rose_Shardable]> {
  let summary = "position ids for a token tensor: result[..., s] = offset + s";
  let description = [{
    The GPT position-id `Range`: every row of the last dim counts up from
    `offset` (non-zero when tokens continue a cached prefix).

    ```mlir
    %pos = rose.positions %ids : tensor<?x?xi64> -> tensor<?x?xi64>
    ```
  }];
  let arguments = (ins Rose_IndexTensor:$input,
                       DefaultValuedAttr<Rose_I64Attr, "0">:$offset);
  let results = (outs Rose_IndexTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

// Tensors whose contents depend only on shapes (position ids, masks) are
// computed at run time from a reference value's dims, exactly: indices are
// integers, masks 0/1.
def Rose_IotaOp : Rose_Op<"iota", [Rose_Shardable]> {
  let summary = "0, 1, ..., n - 1 with n = dim `dim` of `ref` (ONNX Range(0, n, 1))";
  let description = [{
    `ref` is read for its shape only.

    ```mlir
    %pos = rose.iota %ids dim 1 : tensor<?x?xi64> -> tensor<?xi64>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$ref, Rose_I64Attr:$dim);
  let results = (outs Rose_IndexTensor:$result);
  let assemblyFormat = "$ref `dim` $dim attr-dict `:` type($ref) `->` type($result)";
}

def Rose_CastOp : Rose_Op<"cast", [Rose_Shardable]> {
  let summary = "integer to float32, element by element (ONNX Cast to FLOAT)";
  let description = [{
    Position ids made floats, as Hugging Face's rotary embedding does before
    multiplying them by the frequencies. Exact up to 2^24.

    ```mlir
    %f = rose.cast %pos : tensor<1x?xi64> -> tensor<1x?xf32>
    ```
  }];
  let arguments = (ins RankedTensorOf<[I64]>:$input);
  let results = (outs Rose_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

def Rose_FillOp : Rose_Op<"fill", [Rose_Shardable]> {
  let summary = "a tensor of one value (ONNX ConstantOfShape)";
  let description = [{
    Result dim i has the size of dim `dims[i]` of `ref` (read for its shape
    only) when `dims[i] >= 0`, else the static size `-dims[i]`.

    ```mlir
    %ones = rose.fill %ids dims [1, 1] value 1.0 : tensor<?x?xi64> -> tensor<?x?xf32>
    %row = rose.fill %ids dims [-1, 1] value 0.0 : tensor<?x?xi64> -> tensor<1x?xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$ref, DenseI64ArrayAttr:$dims,
                       F64Attr:$value);
  let results = (outs Rose_FloatTensor:$result);
  let assemblyFormat = "$ref `dims` $dims `value` $value attr-dict `:` type($ref) `->` type($result)";
}

def Rose_TriluOp : Rose_Op<"trilu", [Rose_Shardable]> {
  let summary = "keeps the lower (or upper) triangle of the last two dims (ONNX Trilu)";
  let description = [{
    Lower: element (i, j) is kept where j <= i + k, else 0; with `upper`,
    where j >= i + k.

    ```mlir
    %causal = rose.trilu %ones k 0 : tensor<?x?xf32> -> tensor<?x?xf32>
    ```
  }];
  let arguments = (ins Rose_FloatTensor:$input, Rose_I64Attr:$k, UnitAttr:$upper);
  let results = (outs Rose_FloatTensor:$result);
  let assemblyFormat = "$input `k` $k (`upper` $upper^)? attr-dict `:` type($input) `->` type($result)";
}

def Rose_GatherOp : Rose_Op<"gather", [Rose_Shardable]> {
  let summary = "entries of one axis at given indices (ONNX Gather)";
  let description = [{
    The result is `input.shape[:axis] + indices.shape + input.shape[axis+1:]`;
    an index outside the axis is an error at run time. A row lookup in a 2-D
    weight is `rose.embedding`, which may be vocab-parallel.

    ```mlir
    %rows = rose.gather %mask, %pos axis 2 : tensor<1x1x128x128xf32>, tensor<?xi64> -> tensor<1x1x?x128xf32>
    ```
  }];
  let arguments = (ins Rose_FloatTensor:$input, Rose_IndexTensor:$indices,
                       Rose_I64Attr:$axis);
  let results = (outs Rose_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $indices `axis` $axis attr-dict `:` type($input) `,` type($indices) `->` type($result)
  }];
}

def Rose_MatMulOp : Rose_Op<"matmul", [Rose_Shardable]> {
  let summary = "batched matmul with optional bias: lhs @ rhs (+ bias)";
  let description = [{
    `lhs` is `[..., M, K]`; `rhs` is `[..., K, N]` (or `[..., N, K]` with
    `transpose_rhs`); batch dims broadcast numpy-style, so a 2-D weight applies
    to every batch. An optional 1-D `bias` of size N is added to every row.

    ```mlir
    %y = rose.matmul %x, %w, %b : tensor<?x?x768xf32>, tensor<768x3072xf32>, tensor<3072xf32> -> tensor<?x?x3072xf32>
    %logits = rose.matmul %h, %wte {transpose_rhs} : tensor<?x?x768xf32>, tensor<50257x768xf32> -> tensor<?x?x50257xf32>
    ```
  }];
  let arguments = (ins Rose_FloatTensor:$lhs, Rose_FloatTensor:$rhs,
                       Optional<Rose_FloatTensor>:$bias,
                       UnitAttr:$transpose_rhs);
  let results = (outs Rose_FloatTensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs (`,` $bias^)? attr-dict `:` type($lhs) `,` type($rhs) (`,` type($bias)^)? `->` type($result)
  }];
}

def Rose_AddOp : Rose_BinaryOp<"add", [Commutative]> {
  // add(matmul(x, w), b) with a 1-D b folds into matmul's bias.
  let hasCanonicalizer = 1;
}
def Rose_SubOp : Rose_BinaryOp<"sub">;
def Rose_MulOp : Rose_BinaryOp<"mul", [Commutative]>;
def Rose_DivOp : Rose_BinaryOp<"div">;
def Rose_PowOp : Rose_BinaryOp<"pow">;
def Rose_MaxOp : Rose_BinaryOp<"max", [Commutative]>;
def Rose_MinOp : Rose_BinaryOp<"min", [Commutative]>;
def Rose_EqualOp : Rose_BinaryOp<"equal", [Commutative]>;
def Rose_LessOp : Rose_BinaryOp<"less">;
def Rose_GreaterOp : Rose_BinaryOp<"greater">;

def Rose_NegOp : Rose_UnaryOp<"neg", "-x">;
def Rose_ExpOp : Rose_UnaryOp<"exp", "e^x">;
def Rose_SqrtOp : Rose_UnaryOp<"sqrt", "square root">;
def Rose_ReciprocalOp : Rose_UnaryOp<"reciprocal", "1 / x">;
def Rose_TanhOp : Rose_UnaryOp<"tanh", "hyperbolic tangent">;
def Rose_ErfOp : Rose_UnaryOp<"erf", "the error function">;
def Rose_SigmoidOp : Rose_UnaryOp<"sigmoid", "1 / (1 + e^-x)">;
def Rose_CosOp : Rose_UnaryOp<"cos", "cosine">;
def Rose_SinOp : Rose_UnaryOp<"sin", "sine">;
def Rose_NotOp : Rose_UnaryOp<"not", "logical not of a 0/1 tensor: 1 where x == 0, else 0">;
def Rose_ReluOp : Rose_UnaryOp<"relu", "rectified linear unit, max(x, 0) (ONNX Relu)">;
def Rose_SiluOp : Rose_UnaryOp<"silu", "SiLU (swish), x * sigmoid(x)">;

def Rose_WhereOp : Rose_Op<"where", [Rose_Shardable]> {
  let summary = "elementwise select with numpy broadcasting (ONNX Where)";
  let description = [{
    `result = condition != 0 ? lhs : rhs`; the three operands broadcast
    together.

    ```mlir
    %s = rose.where %mask, %scores, %neg_inf : tensor<?x?xf32>, tensor<?x4x?x?xf32>, tensor<f32> -> tensor<?x4x?x?xf32>
    ```
  }];
  let arguments = (ins Rose_FloatTensor:$condition, Rose_FloatTensor:$lhs,
                       Rose_FloatTensor:$rhs);
  let results = (outs Rose_FloatTensor:$result);
  let assemblyFormat = [{
    $condition `,` $lhs `,` $rhs attr-dict `:` type($condition) `,` type($lhs) `,` type($rhs) `->` type($result)
  }];
}

def Rose_ReduceOp : Rose_Op<"reduce", [Rose_Shardable]> {
  let summary = "sum, mean or max over one axis, kept as size 1 (ONNX ReduceSum/ReduceMean/ReduceMax, keepdims)";
  let description = [{
    Accumulates in float32 or wider whatever the storage type.

    ```mlir
    %m = rose.reduce mean %x axis 2 : tensor<?x?x64xf32> -> tensor<?x?x1xf32>
    ```
  }];
  let arguments = (ins Rose_FloatTensor:$input, Rose_ReduceKind:$kind,
                       Rose_I64Attr:$axis);
  let results = (outs Rose_FloatTensor:$result);
  let assemblyFormat = "$kind $input `axis` $axis attr-dict `:` type($input) `->` type($result)";
}

def Rose_LayerNormOp : Rose_Op<"layer_norm", [Rose_Shardable]> {
  let summary = "layer normalization over the last axis";
  let description = [{
    `(x - mean) / sqrt(var + epsilon) * scale + bias` over the last dim;
    `scale` and `bias` are 1-D of that size.
  }];
  let arguments = (ins Rose_FloatTensor:$input, Rose_FloatTensor:$scale,
                       Rose_FloatTensor:$bias,
                       DefaultValuedAttr<F64Attr, "1.0e-5">:$epsilon);
  let results = (outs Rose_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $scale `,` $bias attr-dict `:` type($input) `,` type($scale) `,` type($bias) `->` type($result)
  }];
}

def Rose_RmsNormOp : Rose_Op<"rms_norm", [Rose_Shardable]> {
  let summary = "RMS normalization over the last axis (ONNX RMSNormalization)";
  let description = [{
    `x / sqrt(mean(x^2) + epsilon) * scale` over the last dim, computed in
    float32 whatever the storage type; `scale` is 1-D of that size. Llama's
    RMSNorm (ONNX opset 23 `RMSNormalization` with axis -1).

    ```mlir
    %y = rose.rms_norm %x, %w {epsilon = 1.0e-06 : f64} : tensor<?x?x512xf32>, tensor<512xf32> -> tensor<?x?x512xf32>
    ```
  }];
  let arguments = (ins Rose_FloatTensor:$input, Rose_FloatTensor:$scale,
                       DefaultValuedAttr<F64Attr, "1.0e-6">:$epsilon);
  let results = (outs Rose_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $scale attr-dict `:` type($input) `,` type($scale) `->` type($result)
  }];
}

def Rose_GeluOp : Rose_Op<"gelu", [Rose_Shardable]> {
  let summary = "GELU, exact (erf) or tanh-approximated";
  let arguments = (ins Rose_FloatTensor:$input,
                       Rose_GeluApproximation:$approximation);
  let results = (outs Rose_FloatTensor:$result);
  let assemblyFormat = "$input $approximation attr-dict `:` type($input) `->` type($result)";
}

def Rose_RotaryOp : Rose_Op<"rotary", [Rose_ShardableLocal]> {
  let summary = "rotary position embedding of packed heads (ONNX RotaryEmbedding)";
  let description = [{
    `x` is `[batch, seq, heads * head_dim]`, `positions` `[batch, seq]` (the
    position of each token, offset by a cache when generating). In every
    head, the first `2 * len(inv_freq)` dims are rotated by the angles
    `position * inv_freq[i]`: dims (i, i + rotary_dim / 2) with the
    rotate-half layout Hugging Face's Llama uses, or (2i, 2i + 1) with
    `interleaved` (Meta's original); the rest pass through. The importer
    computes `inv_freq` from `rope_theta` and `rope_scaling` (ONNX passes
    cos/sin caches instead; the frequencies are the compact form).

    ```mlir
    %q = rose.rotary %x, %pos heads 8 inv_freq [1.0, 0.1] : tensor<?x?x32xf32>, tensor<?x?xi64> -> tensor<?x?x32xf32>
    ```
  }];
  let arguments = (ins Rose_FloatTensor:$input, Rose_IndexTensor:$positions,
                       Rose_I64Attr:$num_heads, DenseF32ArrayAttr:$inv_freq,
                       UnitAttr:$interleaved);
  let results = (outs Rose_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $positions `heads` $num_heads `inv_freq` $inv_freq (`interleaved` $interleaved^)? attr-dict `:` type($input) `,` type($positions) `->` type($result)
  }];
}

def Rose_SoftmaxOp : Rose_Op<"softmax", [Rose_Shardable]> {
  let summary = "softmax along one axis";
  let arguments = (ins Rose_FloatTensor:$input, Rose_I64Attr:$axis);
  let results = (outs Rose_FloatTensor:$result);
  let assemblyFormat = "$input `axis` $axis attr-dict `:` type($input) `->` type($result)";
}

def Rose_AttentionOp : Rose_Op<"attention", [Rose_ShardableLocal]> {
  let summary = "scaled-dot-product multi-head attention, optionally causal";
  let description = [{
    q is `[batch, seq, heads * head_dim]` with heads packed in the last dim
    (head h owns columns [h * head_dim, (h + 1) * head_dim)); k and v are
    `[batch, seq, kv_heads * head_dim]`. Query head h attends with kv head
    `h / (heads / kv_heads)` (grouped-query attention; `kv_heads` defaults to
    `heads`, 1 is multi-query), as ONNX opset 23 `Attention`'s
    `q_num_heads`/`kv_num_heads`. Per head: `softmax(q k^T * scale +
    causal_mask) v`; `scale` defaults to `1 / sqrt(head_dim)`. Splitting the
    last dims by whole kv-head groups shards it. `window` (Mistral's sliding
    window, with `causal`): query i sees keys j with i - window < j <= i;
    the runtime does not implement it yet and refuses sequences longer than
    the window, where it would matter.

    ```mlir
    %o = rose.attention %q, %k, %v heads 12 causal : tensor<?x?x768xf32> -> tensor<?x?x768xf32>
    %g = rose.attention %q, %k, %v heads 8 kv_heads 2 causal : tensor<?x?x512xf32>, tensor<?x?x128xf32>, tensor<?x?x128xf32> -> tensor<?x?x512xf32>
    ```
  }];
  let arguments = (ins Rose_FloatTensor:$query, Rose_FloatTensor:$key,
                       Rose_FloatTensor:$value, Rose_I64Attr:$num_heads,
                       OptionalAttr<Rose_I64Attr>:$kv_heads,
                       UnitAttr:$causal, OptionalAttr<F64Attr>:$scale,
                       OptionalAttr<Rose_I64Attr>:$window);
  let results = (outs Rose_FloatTensor:$result);
  let assemblyFormat = [{
    $query `,` $key `,` $value `heads` $num_heads (`kv_heads` $kv_heads^)? (`causal` $causal^)? (`window` $window^)? attr-dict `:` type($query) `,` type($key) `,` type($value) `->` type($result)
  }];
  let builders = [
    // Multi-head attention (kv_heads = heads).
    OpBuilder<(ins "::mlir::Value":$query, "::mlir::Value":$key,
                   "::mlir::Value":$value, "int64_t":$num_heads,
                   "bool":$causal, "::mlir::FloatAttr":$scale), [{
      build($_builder, $_state, query, key, value,
            $_builder.getI64IntegerAttr(num_heads), ::mlir::IntegerAttr(),
            causal ? $_builder.getUnitAttr() : ::mlir::UnitAttr(), scale,
            ::mlir::IntegerAttr());
    }]>
  ];
  let extraClassDeclaration = [{
    /// kv_heads, or num_heads when absent.
    int64_t getNumKvHeads() {
      return getKvHeads() ? *getKvHeads() : getNumHeads();
    }
  }];
}

//===----------------------------------------------------------------------===//
// Shape ops
//===----------------------------------------------------------------------===//

def Rose_ReshapeOp : Rose_Op<"reshape", [Rose_ShardableLocal]> {
  let summary = "reshape with ONNX semantics: 0 copies a dim, -1 is inferred";
  let arguments = (ins Rose_FloatTensor:$input, DenseI64ArrayAttr:$shape);
  let results = (outs Rose_FloatTensor:$result);
  let assemblyFormat = "$input $shape attr-dict `:` type($input) `->` type($result)";
  let hasFolder = 1;
}

def Rose_TransposeOp : Rose_Op<"transpose", [Rose_Shardable]> {
  let summary = "permutes dims: result dim i is input dim permutation[i]";
  let arguments = (ins Rose_FloatTensor:$input, DenseI64ArrayAttr:$permutation);
  let results = (outs Rose_FloatTensor:$result);
  let assemblyFormat = "$input $permutation attr-dict `:` type($input) `->` type($result)";
  let hasFolder = 1;
}

def Rose_SplitOp : Rose_Op<"split", [Rose_ShardableLocal]> {
  let summary = "splits one axis into consecutive pieces of the given sizes";
  let arguments = (ins Rose_FloatTensor:$input, Rose_I64Attr:$axis,
                       DenseI64ArrayAttr:$sizes);
  let results = (outs Variadic<Rose_FloatTensor>:$results);
  let assemblyFormat = [{
    $input `axis` $axis `sizes` $sizes attr-dict `:` type($input) `->` type($results)
  }];
  let hasFolder = 1;
}

def Rose_ConcatOp : Rose_Op<"concat", [Rose_Shardable]> {
  let summary = "concatenates tensors along one axis";
  let arguments = (ins Variadic<Rose_FloatTensor>:$inputs, Rose_I64Attr:$axis);
  let results = (outs Rose_FloatTensor:$result);
  let assemblyFormat = [{
    $inputs `axis` $axis attr-dict `:` type($inputs) `->` type($result)
  }];
  let hasFolder = 1;
}

def Rose_SliceOp : Rose_Op<"slice", [Rose_Shardable]> {
  let summary = "takes [start, end) of one axis";
  let arguments = (ins Rose_FloatTensor:$input, Rose_I64Attr:$axis, Rose_I64Attr:$start,
                       Rose_I64Attr:$end);
  let results = (outs Rose_FloatTensor:$result);
  let assemblyFormat = [{
    $input `axis` $axis `from` $start `to` $end attr-dict `:` type($input) `->` type($result)
  }];
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// Collectives
//===----------------------------------------------------------------------===//

def Rose_AllReduceOp : Rose_CollectiveOp<"all_reduce"> {
  let summary = "every rank gets the reduction of all ranks' values";
  let description = [{
    ```mlir
    %s = rose.all_reduce %p sum over "tp"(4) : tensor<?x?x768xf32> -> tensor<?x?x768xf32>
    ```
  }];
  let arguments = (ins Rose_FloatTensor:$input, Rose_ReductionKind:$reduction,
                       StrAttr:$axis, Rose_I64Attr:$group_size);
  let assemblyFormat = [{
    $input $reduction `over` $axis `(` $group_size `)` attr-dict `:` type($input) `->` type($result)
  }];
}

def Rose_AllGatherOp : Rose_CollectiveOp<"all_gather"> {
  let summary = "concatenates every rank's chunk along `dim`";
  let description = [{
    ```mlir
    %g = rose.all_gather %x over "tp"(4) dim 2 : tensor<?x?x192xf32> -> tensor<?x?x768xf32>
    ```
  }];
  let arguments = (ins Rose_FloatTensor:$input, StrAttr:$axis,
                       Rose_I64Attr:$group_size, Rose_I64Attr:$dim);
  let assemblyFormat = [{
    $input `over` $axis `(` $group_size `)` `dim` $dim attr-dict `:` type($input) `->` type($result)
  }];
}

def Rose_ReduceScatterOp : Rose_CollectiveOp<"reduce_scatter"> {
  let summary = "reduces over ranks, then keeps this rank's chunk of `dim`";
  let arguments = (ins Rose_FloatTensor:$input, Rose_ReductionKind:$reduction,
                       StrAttr:$axis, Rose_I64Attr:$group_size, Rose_I64Attr:$dim);
  let assemblyFormat = [{
    $input $reduction `over` $axis `(` $group_size `)` `dim` $dim attr-dict `:` type($input) `->` type($result)
  }];
}

def Rose_AllToAllOp : Rose_CollectiveOp<"all_to_all"> {
  let summary = "moves a split from one dim to another: chunk j of `split_dim` goes to rank j, the chunks received concatenate along `concat_dim`";
  let description = [{
    A value split on `concat_dim` becomes split on `split_dim`: each rank
    sends (N - 1) / N of its chunk, where an all_gather then a shard_slice
    would receive N - 1 chunks.

    ```mlir
    %t = rose.all_to_all %x over "tp"(4) split 2 concat 1 : tensor<2x16x64xf32> -> tensor<2x64x16xf32>
    ```
  }];
  let arguments = (ins Rose_FloatTensor:$input, StrAttr:$axis,
                       Rose_I64Attr:$group_size, Rose_I64Attr:$split_dim,
                       Rose_I64Attr:$concat_dim);
  let assemblyFormat = [{
    $input `over` $axis `(` $group_size `)` `split` $split_dim `concat` $concat_dim attr-dict `:` type($input) `->` type($result)
  }];
}

def Rose_ShardSliceOp : Rose_CollectiveOp<"shard_slice"> {
  let summary = "keeps this rank's chunk of `dim` of a replicated value";
  let description = [{
    No communication: rank r takes chunk r of `group_size` equal chunks.

    ```mlir
    %l = rose.shard_slice %x over "tp"(2) dim 2 : tensor<?x?x768xf32> -> tensor<?x?x384xf32>
    ```
  }];
  let arguments = (ins Rose_FloatTensor:$input, StrAttr:$axis,
                       Rose_I64Attr:$group_size, Rose_I64Attr:$dim);
  let assemblyFormat = [{
    $input `over` $axis `(` $group_size `)` `dim` $dim attr-dict `:` type($input) `->` type($result)
  }];
}

#endif // ROSE_DIALECT_ROSEOPS_TD
