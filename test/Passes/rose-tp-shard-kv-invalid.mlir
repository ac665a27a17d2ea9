// Grouped-query attention over more ranks than kv heads needs the kv heads
// replicated, which takes k and v each from a column-parallel projection of
// its own (whose weights can be repeated per kv head). Here k and v are
// function inputs: a one-line error naming the layer and the numbers.
// RUN: not rose-opt %s --rose-tp-shard=tp=4 -o /dev/null 2>&1 | FileCheck %s
// CHECK: error: 'rose.attention' op cannot shard 'attn.q_proj' by heads over tp=4: 8 heads with 2 kv heads need the kv heads replicated, and its k and v are not each a column-parallel projection of their own

func.func @forward(%x: tensor<?x?x16xf32>, %k: tensor<?x?x4xf32>, %v: tensor<?x?x4xf32>) -> tensor<?x?x16xf32> {
  %wq = rose.param "attn.q_proj.weight" : tensor<16x16xf32>
  %q = rose.matmul %x, %wq {transpose_rhs} : tensor<?x?x16xf32>, tensor<16x16xf32> -> tensor<?x?x16xf32>
  %a = rose.attention %q, %k, %v heads 8 kv_heads 2 causal : tensor<?x?x16xf32>, tensor<?x?x4xf32>, tensor<?x?x4xf32> -> tensor<?x?x16xf32>
  return %a : tensor<?x?x16xf32>
}
