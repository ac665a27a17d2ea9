// Megatron sharding of a GPT-2 block (768 wide, 12 heads, d_ff 3072).
// RUN: rose-opt %s --rose-tp-shard="tp=2" | FileCheck %s --check-prefix=TP2
// RUN: rose-opt %s --rose-tp-pipeline="tp=4" | FileCheck %s --check-prefix=TP4
// RUN: rose-opt %s --rose-tp-shard="tp=2" -o /dev/null 2>&1 | FileCheck %s --check-prefix=REMARK
// RUN: rose-opt %s --rose-tp-pipeline="tp=1" | FileCheck %s --check-prefix=TP1 --implicit-check-not="slice <" --implicit-check-not=rose.all_ --implicit-check-not=rose.reduce_scatter --implicit-check-not=rose.shard_slice

// QKV is split by heads: each rank gets its q, k and v heads (groups = 3),
// attention runs on 6 local heads, the out-proj is row-parallel with one
// all_reduce and its bias added once after it; fc1 column-parallel, gelu on
// the split, fc2 row-parallel: one all_reduce.
// TP2-LABEL: func.func @gpt2_block
// TP2-DAG: %[[WQKV:.*]] = rose.param "h.0.attn.c_attn.weight" slice <dim = 1, parts = 2, groups = 3, full = [768, 2304]> : tensor<768x1152xf32>
// TP2-DAG: %[[BQKV:.*]] = rose.param "h.0.attn.c_attn.bias" slice <dim = 0, parts = 2, groups = 3, full = [2304]> : tensor<1152xf32>
// TP2-DAG: %[[WO:.*]] = rose.param "h.0.attn.c_proj.weight" slice <dim = 0, parts = 2, groups = 1, full = [768, 768]> : tensor<384x768xf32>
// TP2-DAG: %[[BO:.*]] = rose.param "h.0.attn.c_proj.bias" : tensor<768xf32>
// TP2-DAG: %[[WFC:.*]] = rose.param "h.0.mlp.c_fc.weight" slice <dim = 1, parts = 2, groups = 1, full = [768, 3072]> : tensor<768x1536xf32>
// TP2-DAG: %[[WPR:.*]] = rose.param "h.0.mlp.c_proj.weight" slice <dim = 0, parts = 2, groups = 1, full = [3072, 768]> : tensor<1536x768xf32>
// TP2: %[[QKV:.*]] = rose.matmul %{{.*}}, %[[WQKV]], %[[BQKV]] : tensor<?x?x768xf32>, tensor<768x1152xf32>, tensor<1152xf32> -> tensor<?x?x1152xf32>
// TP2: %[[S:.*]]:3 = rose.split %[[QKV]] axis 2 sizes [384, 384, 384]
// TP2: %[[ATT:.*]] = rose.attention %[[S]]#0, %[[S]]#1, %[[S]]#2 heads 6 causal : tensor<?x?x384xf32>
// TP2: %[[P:.*]] = rose.matmul %[[ATT]], %[[WO]] : tensor<?x?x384xf32>, tensor<384x768xf32> -> tensor<?x?x768xf32>
// TP2: %[[R:.*]] = rose.all_reduce %[[P]] sum over "tp"(2)
// TP2: rose.add %[[R]], %[[BO]]
// TP2: rose.gelu %{{.*}} tanh : tensor<?x?x1536xf32>
// TP2: rose.all_reduce
// TP2-NOT: rose.all_
// TP2-NOT: rose.shard_slice
// TP2: return %{{.*}} : tensor<?x?x768xf32>

// TP4: rose.param "h.0.attn.c_attn.weight" slice <dim = 1, parts = 4, groups = 3, full = [768, 2304]> : tensor<768x576xf32>
// TP4: rose.attention {{.*}} heads 3 causal : tensor<?x?x192xf32>
// TP4-COUNT-2: rose.all_reduce {{.*}} over "tp"(4)
// TP4-NOT: rose.all_gather

// REMARK: remark: rose-shard-partition: inserted all_reduce for 'h.0.attn.c_proj' (row-parallel matmul leaves partial sums): 3072 bytes per rank per token (x batch x seq)
// REMARK: remark: rose-shard-partition: inserted all_reduce for 'h.0.mlp.c_proj' (row-parallel matmul leaves partial sums): 3072 bytes per rank per token (x batch x seq)

// At tp=1 the pipeline leaves a dense program: no slices, no collectives
// anywhere (--implicit-check-not above).
// TP1: rose.attention {{.*}} heads 12 causal
// TP1: return

func.func @gpt2_block(%x: tensor<?x?x768xf32>) -> tensor<?x?x768xf32> {
  %ln1w = rose.param "h.0.ln_1.weight" : tensor<768xf32>
  %ln1b = rose.param "h.0.ln_1.bias" : tensor<768xf32>
  %h1 = rose.layer_norm %x, %ln1w, %ln1b : tensor<?x?x768xf32>, tensor<768xf32>, tensor<768xf32> -> tensor<?x?x768xf32>
  %wqkv = rose.param "h.0.attn.c_attn.weight" : tensor<768x2304xf32>
  %bqkv = rose.param "h.0.attn.c_attn.bias" : tensor<2304xf32>
  %qkv = rose.matmul %h1, %wqkv, %bqkv : tensor<?x?x768xf32>, tensor<768x2304xf32>, tensor<2304xf32> -> tensor<?x?x2304xf32>
  %s:3 = rose.split %qkv axis 2 sizes [768, 768, 768] : tensor<?x?x2304xf32> -> tensor<?x?x768xf32>, tensor<?x?x768xf32>, tensor<?x?x768xf32>
  %att = rose.attention %s#0, %s#1, %s#2 heads 12 causal : tensor<?x?x768xf32>, tensor<?x?x768xf32>, tensor<?x?x768xf32> -> tensor<?x?x768xf32>
  %wo = rose.param "h.0.attn.c_proj.weight" : tensor<768x768xf32>
  %bo = rose.param "h.0.attn.c_proj.bias" : tensor<768xf32>
  %o = rose.matmul %att, %wo, %bo : tensor<?x?x768xf32>, tensor<768x768xf32>, tensor<768xf32> -> tensor<?x?x768xf32>
  %r1 = rose.add %x, %o : tensor<?x?x768xf32>, tensor<?x?x768xf32> -> tensor<?x?x768xf32>
  %ln2w = rose.param "h.0.ln_2.weight" : tensor<768xf32>
  %ln2b = rose.param "h.0.ln_2.bias" : tensor<768xf32>
  %h2 = rose.layer_norm %r1, %ln2w, %ln2b : tensor<?x?x768xf32>, tensor<768xf32>, tensor<768xf32> -> tensor<?x?x768xf32>
  %wfc = rose.param "h.0.mlp.c_fc.weight" : tensor<768x3072xf32>
  %bfc = rose.param "h.0.mlp.c_fc.bias" : tensor<3072xf32>
  %fc = rose.matmul %h2, %wfc, %bfc : tensor<?x?x768xf32>, tensor<768x3072xf32>, tensor<3072xf32> -> tensor<?x?x3072xf32>
  %g = rose.gelu %fc tanh : tensor<?x?x3072xf32> -> tensor<?x?x3072xf32>
  %wpr = rose.param "h.0.mlp.c_proj.weight" : tensor<3072x768xf32>
  %bpr = rose.param "h.0.mlp.c_proj.bias" : tensor<768xf32>
  %pr = rose.matmul %g, %wpr, %bpr : tensor<?x?x3072xf32>, tensor<3072x768xf32>, tensor<768xf32> -> tensor<?x?x768xf32>
  %out = rose.add %r1, %pr : tensor<?x?x768xf32>, tensor<?x?x768xf32> -> tensor<?x?x768xf32>
  return %out : tensor<?x?x768xf32>
}
