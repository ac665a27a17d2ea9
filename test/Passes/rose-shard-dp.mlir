// Sharding over a second mesh axis: the batch over dp. An argument split on
// the batch arrives as the rank's rows (its static size shrinks); ops that
// keep the batch dim parallel keep the split, and one that needs it whole
// (softmax over it, after a transpose) gets an all_gather over dp.
// RUN: rose-opt %s -split-input-file --rose-shard-propagate="axis=dp" --rose-shard-partition="axis=dp" | FileCheck %s

// CHECK: rose.mesh @mesh(dp = 2, tp = 1)
// CHECK-LABEL: func.func @batch(%arg0: tensor<2x6xf32>) -> (tensor<2x6xf32>, tensor<6x4xf32>)
// CHECK: %[[R:.*]] = rose.relu %arg0 : tensor<2x6xf32> -> tensor<2x6xf32>
// CHECK: %[[T:.*]] = rose.transpose %[[R]] [1, 0] : tensor<2x6xf32> -> tensor<6x2xf32>
// CHECK: %[[G:.*]] = rose.all_gather %[[T]] over "dp"(2) dim 1 : tensor<6x2xf32> -> tensor<6x4xf32>
// CHECK: %[[S:.*]] = rose.softmax %[[G]] axis 1 : tensor<6x4xf32>
// CHECK: return %[[R]], %[[S]]
module {
rose.mesh @mesh(dp = 2, tp = 1)
func.func @batch(%x: tensor<4x6xf32> {rose.sharding = #rose.shard<split = 0, axis = "dp">})
    -> (tensor<4x6xf32> {rose.sharding = #rose.shard<split = 0, axis = "dp">}, tensor<6x4xf32>) {
  %r = rose.relu %x : tensor<4x6xf32> -> tensor<4x6xf32>
  %t = rose.transpose %r [1, 0] : tensor<4x6xf32> -> tensor<6x4xf32>
  %s = rose.softmax %t axis 1 : tensor<6x4xf32> -> tensor<6x4xf32>
  return %r, %s : tensor<4x6xf32>, tensor<6x4xf32>
}
}

// The MLP with a reshape and a transpose on a dp=2 x tp=2 mesh, as the
// pipeline shards it: tp first (one all_reduce), then the batch over dp (the
// static batch of 4 becomes 2 per rank; nothing communicates over dp).
// RUN: rose-opt %s -split-input-file --rose-shard-propagate --rose-shard-partition --rose-shard-propagate="axis=dp" --rose-shard-partition="axis=dp" | FileCheck %s --check-prefix=MESH
// MESH-LABEL: func.func @mlp(%arg0: tensor<2x5x6xf32>) -> tensor<2x5x6xf32>
// MESH: rose.matmul %arg0, %{{.*}} : tensor<2x5x6xf32>, tensor<6x4xf32> -> tensor<2x5x4xf32>
// MESH: rose.reshape %{{.*}} [0, 0, 1, 4] : tensor<2x5x4xf32> -> tensor<2x5x1x4xf32>
// MESH: rose.transpose %{{.*}} [0, 2, 1, 3] : tensor<2x5x1x4xf32> -> tensor<2x1x5x4xf32>
// MESH: rose.all_reduce %{{.*}} sum over "tp"(2) : tensor<2x5x6xf32>
// MESH-NOT: over "dp"
// MESH: return
// -----
module {
rose.mesh @mesh(dp = 2, tp = 2)
func.func @mlp(%x: tensor<4x5x6xf32> {rose.sharding = #rose.shard<split = 0, axis = "dp">})
    -> (tensor<4x5x6xf32> {rose.sharding = #rose.shard<split = 0, axis = "dp">}) {
  %w1 = rose.param "w1" : tensor<6x8xf32>
  %w2 = rose.param "w2" : tensor<8x6xf32>
  %h = rose.matmul %x, %w1 {rose.sharding = #rose.shard<split = 2>} : tensor<4x5x6xf32>, tensor<6x8xf32> -> tensor<4x5x8xf32>
  %r = rose.reshape %h [0, 0, 2, 4] : tensor<4x5x8xf32> -> tensor<4x5x2x4xf32>
  %t = rose.transpose %r [0, 2, 1, 3] : tensor<4x5x2x4xf32> -> tensor<4x2x5x4xf32>
  %a = rose.relu %t : tensor<4x2x5x4xf32> -> tensor<4x2x5x4xf32>
  %u = rose.transpose %a [0, 2, 1, 3] : tensor<4x2x5x4xf32> -> tensor<4x5x2x4xf32>
  %m = rose.reshape %u [0, 0, 8] : tensor<4x5x2x4xf32> -> tensor<4x5x8xf32>
  %y = rose.matmul %m, %w2 : tensor<4x5x8xf32>, tensor<8x6xf32> -> tensor<4x5x6xf32>
  return %y : tensor<4x5x6xf32>
}
}
