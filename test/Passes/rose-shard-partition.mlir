// One case per sharding rule and input layout on a tp=2 mesh: annotations
// (rose.sharding, user-written) seed --rose-shard-propagate, and
// --rose-shard-partition builds the per-rank function.
// RUN: rose-opt %s -split-input-file --rose-shard-propagate --rose-shard-partition | FileCheck %s

// Column-parallel matmul: the weight is loaded split on N, the input is used
// whole, the caller gets the result gathered.
// CHECK-LABEL: func.func @colwise
// CHECK-DAG: %[[W:.*]] = rose.param "w" slice <dim = 1, parts = 2, groups = 1, full = [8, 6]> : tensor<8x3xf32>
// CHECK: %[[Y:.*]] = rose.matmul %arg0, %[[W]] : tensor<4x8xf32>, tensor<8x3xf32> -> tensor<4x3xf32>
// CHECK: %[[G:.*]] = rose.all_gather %[[Y]] over "tp"(2) dim 1 : tensor<4x3xf32> -> tensor<4x6xf32>
// CHECK: return %[[G]]
module {
rose.mesh @mesh(tp = 2)
func.func @colwise(%x: tensor<4x8xf32>) -> tensor<4x6xf32> {
  %w = rose.param "w" : tensor<8x6xf32>
  %y = rose.matmul %x, %w {rose.sharding = #rose.shard<split = 1>} : tensor<4x8xf32>, tensor<8x6xf32> -> tensor<4x6xf32>
  return %y : tensor<4x6xf32>
}
}

// -----

// Row-parallel matmul with a bias: the replicated input is sliced locally,
// the partial sums are all-reduced, the bias is added once, after.
// CHECK-LABEL: func.func @rowwise_bias
// CHECK-DAG: %[[W:.*]] = rose.param "w" slice <dim = 0, parts = 2, groups = 1, full = [8, 6]> : tensor<4x6xf32>
// CHECK-DAG: %[[B:.*]] = rose.param "b" : tensor<6xf32>
// CHECK: %[[X:.*]] = rose.shard_slice %arg0 over "tp"(2) dim 1 : tensor<4x8xf32> -> tensor<4x4xf32>
// CHECK: %[[P:.*]] = rose.matmul %[[X]], %[[W]] : tensor<4x4xf32>, tensor<4x6xf32> -> tensor<4x6xf32>
// CHECK: %[[R:.*]] = rose.all_reduce %[[P]] sum over "tp"(2)
// CHECK: rose.add %[[R]], %[[B]]
module {
rose.mesh @mesh(tp = 2)
func.func @rowwise_bias(%x: tensor<4x8xf32>) -> tensor<4x6xf32> {
  %w = rose.param "w" : tensor<8x6xf32>
  %b = rose.param "b" : tensor<6xf32>
  %y = rose.matmul %x, %w, %b {rose.sharding = #rose.shard<partial>} : tensor<4x8xf32>, tensor<8x6xf32>, tensor<6xf32> -> tensor<4x6xf32>
  return %y : tensor<4x6xf32>
}
}

// -----

// An MLP with a reshape and a transpose (not a GPT): the split of [.., 8] on
// the last dim maps onto the leading factor of [.., 2, 4] (whole heads), the
// transpose moves it, elementwise ops keep it, and a row-parallel matmul
// consumes it after the reshape back: one all_reduce in all.
// CHECK-LABEL: func.func @mlp_reshape_transpose
// CHECK: rose.matmul {{.*}} -> tensor<3x5x4xf32>
// CHECK: %[[R:.*]] = rose.reshape %{{.*}} [0, 0, 1, 4] : tensor<3x5x4xf32> -> tensor<3x5x1x4xf32>
// CHECK: %[[T:.*]] = rose.transpose %[[R]] [0, 2, 1, 3] : tensor<3x5x1x4xf32> -> tensor<3x1x5x4xf32>
// CHECK: rose.relu %[[T]] : tensor<3x1x5x4xf32>
// CHECK: rose.transpose {{.*}} -> tensor<3x5x1x4xf32>
// CHECK: rose.reshape {{.*}} [0, 0, 4] : tensor<3x5x1x4xf32> -> tensor<3x5x4xf32>
// CHECK: rose.matmul {{.*}} : tensor<3x5x4xf32>, tensor<4x6xf32> -> tensor<3x5x6xf32>
// CHECK: rose.all_reduce
// CHECK-NOT: rose.all_
// CHECK-NOT: rose.shard_slice
// CHECK: return
module {
rose.mesh @mesh(tp = 2)
func.func @mlp_reshape_transpose(%x: tensor<3x5x6xf32>) -> tensor<3x5x6xf32> {
  %w1 = rose.param "w1" : tensor<6x8xf32>
  %w2 = rose.param "w2" : tensor<8x6xf32>
  %h = rose.matmul %x, %w1 {rose.sharding = #rose.shard<split = 2>} : tensor<3x5x6xf32>, tensor<6x8xf32> -> tensor<3x5x8xf32>
  %r = rose.reshape %h [0, 0, 2, 4] : tensor<3x5x8xf32> -> tensor<3x5x2x4xf32>
  %t = rose.transpose %r [0, 2, 1, 3] : tensor<3x5x2x4xf32> -> tensor<3x2x5x4xf32>
  %a = rose.relu %t : tensor<3x2x5x4xf32> -> tensor<3x2x5x4xf32>
  %u = rose.transpose %a [0, 2, 1, 3] : tensor<3x2x5x4xf32> -> tensor<3x5x2x4xf32>
  %m = rose.reshape %u [0, 0, 8] : tensor<3x5x2x4xf32> -> tensor<3x5x8xf32>
  %y = rose.matmul %m, %w2 : tensor<3x5x8xf32>, tensor<8x6xf32> -> tensor<3x5x6xf32>
  return %y : tensor<3x5x6xf32>
}
}

// -----

// A reshape that splits the split dim in a way no rank can own (3 heads over
// 2 ranks): the value is gathered first, and the reshape runs whole.
// CHECK-LABEL: func.func @reshape_uneven
// CHECK: %[[G:.*]] = rose.all_gather %{{.*}} over "tp"(2) dim 1 : tensor<2x6xf32> -> tensor<2x12xf32>
// CHECK: rose.reshape %[[G]] [2, 3, 4]
module {
rose.mesh @mesh(tp = 2)
func.func @reshape_uneven(%x: tensor<2x8xf32>) -> tensor<2x3x4xf32> {
  %w = rose.param "w" : tensor<8x12xf32>
  %h = rose.matmul %x, %w {rose.sharding = #rose.shard<split = 1>} : tensor<2x8xf32>, tensor<8x12xf32> -> tensor<2x12xf32>
  %r = rose.reshape %h [2, 3, 4] : tensor<2x12xf32> -> tensor<2x3x4xf32>
  return %r : tensor<2x3x4xf32>
}
}

// -----

// A split that moves from one dim to another: one all_to_all, which sends
// half of each rank's chunk (gather + slice would receive a whole one).
// CHECK-LABEL: func.func @split_move
// CHECK: %[[Y:.*]] = rose.matmul {{.*}} -> tensor<4x3xf32>
// CHECK: %[[A:.*]] = rose.all_to_all %[[Y]] over "tp"(2) split 0 concat 1 : tensor<4x3xf32> -> tensor<2x6xf32>
// CHECK: %[[R:.*]] = rose.relu %[[A]] : tensor<2x6xf32>
// CHECK: rose.all_gather %[[R]] over "tp"(2) dim 0 : tensor<2x6xf32> -> tensor<4x6xf32>
// CHECK-NOT: rose.shard_slice
module {
rose.mesh @mesh(tp = 2)
func.func @split_move(%x: tensor<4x8xf32>) -> tensor<4x6xf32> {
  %w = rose.param "w" : tensor<8x6xf32>
  %y = rose.matmul %x, %w {rose.sharding = #rose.shard<split = 1>} : tensor<4x8xf32>, tensor<8x6xf32> -> tensor<4x6xf32>
  %r = rose.relu %y {rose.sharding = #rose.shard<split = 0>} : tensor<4x6xf32> -> tensor<4x6xf32>
  return %r : tensor<4x6xf32>
}
}

// -----

// The same move from a padded split (7 columns over 2 ranks: 4 + 4, one
// padding): all_to_all would exchange the padding, so the value is gathered,
// the padding dropped, and this rank's rows sliced.
// CHECK-LABEL: func.func @split_move_padded
// CHECK: %[[Y:.*]] = rose.matmul {{.*}} -> tensor<4x4xf32>
// CHECK: %[[G:.*]] = rose.all_gather %[[Y]] over "tp"(2) dim 1 : tensor<4x4xf32> -> tensor<4x8xf32>
// CHECK: %[[S:.*]] = rose.slice %[[G]] axis 1 from 0 to 7 : tensor<4x8xf32> -> tensor<4x7xf32>
// CHECK: %[[L:.*]] = rose.shard_slice %[[S]] over "tp"(2) dim 0 : tensor<4x7xf32> -> tensor<2x7xf32>
// CHECK: rose.relu %[[L]] : tensor<2x7xf32>
// CHECK-NOT: rose.all_to_all
module {
rose.mesh @mesh(tp = 2)
func.func @split_move_padded(%x: tensor<4x8xf32>) -> tensor<4x7xf32> {
  %w = rose.param "w" : tensor<8x7xf32>
  %y = rose.matmul %x, %w {rose.sharding = #rose.shard<split = 1>, rose.sharding_pad} : tensor<4x8xf32>, tensor<8x7xf32> -> tensor<4x7xf32>
  %r = rose.relu %y {rose.sharding = #rose.shard<split = 0>} : tensor<4x7xf32> -> tensor<4x7xf32>
  return %r : tensor<4x7xf32>
}
}

// -----

// Softmax and layer_norm keep their axis whole: a split there is gathered;
// a split elsewhere stays.
// CHECK-LABEL: func.func @softmax_axis
// CHECK: %[[Y:.*]] = rose.matmul {{.*}} -> tensor<4x3xf32>
// CHECK: %[[G:.*]] = rose.all_gather %[[Y]] over "tp"(2) dim 1
// CHECK: rose.softmax %[[G]] axis 1
// CHECK: rose.softmax %[[Y]] axis 0 : tensor<4x3xf32>
module {
rose.mesh @mesh(tp = 2)
func.func @softmax_axis(%x: tensor<4x8xf32>) -> (tensor<4x6xf32>, tensor<4x6xf32>) {
  %w = rose.param "w" : tensor<8x6xf32>
  %y = rose.matmul %x, %w {rose.sharding = #rose.shard<split = 1>} : tensor<4x8xf32>, tensor<8x6xf32> -> tensor<4x6xf32>
  %s = rose.softmax %y axis 1 : tensor<4x6xf32> -> tensor<4x6xf32>
  %t = rose.softmax %y axis 0 : tensor<4x6xf32> -> tensor<4x6xf32>
  return %s, %t : tensor<4x6xf32>, tensor<4x6xf32>
}
}

// -----

// Elementwise with broadcasting: a bias along the split dim is loaded split;
// a size-1 broadcast dim is used whole.
// CHECK-LABEL: func.func @broadcast
// CHECK-DAG: %[[B:.*]] = rose.param "b" slice <dim = 0, parts = 2, groups = 1, full = [6]> : tensor<3xf32>
// CHECK-DAG: %[[C:.*]] = rose.param "c" : tensor<4x1xf32>
// CHECK: %[[A:.*]] = rose.add %{{.*}}, %[[B]] : tensor<4x3xf32>, tensor<3xf32> -> tensor<4x3xf32>
// CHECK: rose.mul %[[A]], %[[C]] : tensor<4x3xf32>, tensor<4x1xf32> -> tensor<4x3xf32>
module {
rose.mesh @mesh(tp = 2)
func.func @broadcast(%x: tensor<4x8xf32>) -> tensor<4x6xf32> {
  %w = rose.param "w" : tensor<8x6xf32>
  %b = rose.param "b" : tensor<6xf32>
  %c = rose.param "c" : tensor<4x1xf32>
  %y = rose.matmul %x, %w {rose.sharding = #rose.shard<split = 1>} : tensor<4x8xf32>, tensor<8x6xf32> -> tensor<4x6xf32>
  %a = rose.add %y, %b : tensor<4x6xf32>, tensor<6xf32> -> tensor<4x6xf32>
  %m = rose.mul %a, %c : tensor<4x6xf32>, tensor<4x1xf32> -> tensor<4x6xf32>
  return %m : tensor<4x6xf32>
}
}

// -----

// Partial + partial stays partial (one all_reduce for the sum); partial times
// anything is reduced first.
// CHECK-LABEL: func.func @partial_sum
// CHECK: %[[S:.*]] = rose.add %{{.*}}, %{{.*}} : tensor<4x6xf32>
// CHECK: %[[R:.*]] = rose.all_reduce %[[S]]
// CHECK: rose.mul %[[R]], %[[R]]
// CHECK-NOT: rose.all_reduce
module {
rose.mesh @mesh(tp = 2)
func.func @partial_sum(%x: tensor<4x8xf32>) -> tensor<4x6xf32> {
  %w = rose.param "w" : tensor<8x6xf32>
  %v = rose.param "v" : tensor<8x6xf32>
  %p = rose.matmul %x, %w {rose.sharding = #rose.shard<partial>} : tensor<4x8xf32>, tensor<8x6xf32> -> tensor<4x6xf32>
  %q = rose.matmul %x, %v {rose.sharding = #rose.shard<partial>} : tensor<4x8xf32>, tensor<8x6xf32> -> tensor<4x6xf32>
  %s = rose.add %p, %q : tensor<4x6xf32>, tensor<4x6xf32> -> tensor<4x6xf32>
  %m = rose.mul %s, %s : tensor<4x6xf32>, tensor<4x6xf32> -> tensor<4x6xf32>
  return %m : tensor<4x6xf32>
}
}

// -----

// Vocab-parallel embedding: rows split (the last rank's padded: 5 rows over
// 2), a masked lookup, a partial result.
// CHECK-LABEL: func.func @vocab
// CHECK: %[[T:.*]] = rose.param "wte" slice <dim = 0, parts = 2, groups = 1, full = [5, 4]> : tensor<3x4xf32>
// CHECK: %[[E:.*]] = rose.embedding %[[T]][%arg0] {vocab_shards = 2 : i64}
// CHECK: rose.all_reduce %[[E]]
module {
rose.mesh @mesh(tp = 2)
func.func @vocab(%ids: tensor<?x?xi64>) -> tensor<?x?x4xf32> {
  %t = rose.param "wte" : tensor<5x4xf32>
  %e = rose.embedding %t[%ids] {rose.sharding = #rose.shard<partial>, rose.sharding_pad} : tensor<5x4xf32>, tensor<?x?xi64> -> tensor<?x?x4xf32>
  return %e : tensor<?x?x4xf32>
}
}

// -----

// Attention on local heads; concat and slice keep their axis whole but pass
// a split of another dim.
// CHECK-LABEL: func.func @heads_concat_slice
// CHECK: %[[A:.*]] = rose.attention {{.*}} heads 2 causal : tensor<?x?x8xf32>
// CHECK: %[[C:.*]] = rose.concat %[[A]], %[[A]] axis 1 : tensor<?x?x8xf32>, tensor<?x?x8xf32> -> tensor<?x?x8xf32>
// CHECK: %[[S:.*]] = rose.slice %[[C]] axis 1 from 0 to 1 : tensor<?x?x8xf32> -> tensor<?x1x8xf32>
// CHECK: rose.all_gather %[[S]] over "tp"(2) dim 2
module {
rose.mesh @mesh(tp = 2)
func.func @heads_concat_slice(%x: tensor<?x?x16xf32>) -> tensor<?x1x16xf32> {
  %wq = rose.param "wq" : tensor<16x16xf32>
  %q = rose.matmul %x, %wq {rose.sharding = #rose.shard<split = 2>} : tensor<?x?x16xf32>, tensor<16x16xf32> -> tensor<?x?x16xf32>
  %a = rose.attention %q, %q, %q heads 4 causal : tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32> -> tensor<?x?x16xf32>
  %c = rose.concat %a, %a axis 1 : tensor<?x?x16xf32>, tensor<?x?x16xf32> -> tensor<?x?x16xf32>
  %s = rose.slice %c axis 1 from 0 to 1 : tensor<?x?x16xf32> -> tensor<?x1x16xf32>
  return %s : tensor<?x1x16xf32>
}
}

// -----

// Grouped-query attention splits by kv-head groups: 8 query heads over 2 kv
// heads at tp=2 run 4 over 1 on each rank; RMS norm keeps a sequence split
// and SiLU any split.
// CHECK-LABEL: func.func @gqa
// CHECK: rose.attention {{.*}} heads 4 kv_heads 1 causal : tensor<?x?x16xf32>, tensor<?x?x4xf32>, tensor<?x?x4xf32> -> tensor<?x?x16xf32>
// CHECK-NEXT: rose.silu {{.*}} : tensor<?x?x16xf32>
// CHECK-NOT: rose.all_gather
// CHECK: rose.all_reduce
module {
rose.mesh @mesh(tp = 2)
func.func @gqa(%x: tensor<?x?x32xf32>) -> tensor<?x?x32xf32> {
  %n = rose.param "n" : tensor<32xf32>
  %h = rose.rms_norm %x, %n : tensor<?x?x32xf32>, tensor<32xf32> -> tensor<?x?x32xf32>
  %wq = rose.param "wq" : tensor<32x32xf32>
  %wk = rose.param "wk" : tensor<32x8xf32>
  %q = rose.matmul %h, %wq {rose.sharding = #rose.shard<split = 2>} : tensor<?x?x32xf32>, tensor<32x32xf32> -> tensor<?x?x32xf32>
  %k = rose.matmul %h, %wk {rose.sharding = #rose.shard<split = 2>} : tensor<?x?x32xf32>, tensor<32x8xf32> -> tensor<?x?x8xf32>
  %a = rose.attention %q, %k, %k heads 8 kv_heads 2 causal : tensor<?x?x32xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32> -> tensor<?x?x32xf32>
  %s = rose.silu %a : tensor<?x?x32xf32> -> tensor<?x?x32xf32>
  %wo = rose.param "wo" : tensor<32x32xf32>
  %o = rose.matmul %s, %wo : tensor<?x?x32xf32>, tensor<32x32xf32> -> tensor<?x?x32xf32>
  return %o : tensor<?x?x32xf32>
}
}

// -----

// A param repeated per kv head (2 blocks, each twice: kv-head replication at
// tp = 4): split over the 4 ranks, each loads one block, rank r block r / 2.
// CHECK-LABEL: func.func @repeated_kv
// CHECK: %[[W:.*]] = rose.param "wk" slice <dim = 1, parts = 2, groups = 1, full = [8, 4], replicas = 2> : tensor<8x2xf32>
// CHECK: rose.matmul %arg0, %[[W]] : tensor<4x8xf32>, tensor<8x2xf32> -> tensor<4x2xf32>
module {
rose.mesh @mesh(tp = 4)
func.func @repeated_kv(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %w = rose.param "wk" repeat [1, 2, 2] : tensor<8x8xf32>
  %y = rose.matmul %x, %w {rose.sharding = #rose.shard<split = 1>} : tensor<4x8xf32>, tensor<8x8xf32> -> tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}
}
