// Sharding over a second mesh axis: the batch over dp. An argument split on
// the batch arrives as the rank's rows (its static size shrinks); ops that
// keep the batch dim parallel keep the split, and one that needs it whole
// (softmax over it, after a transpose) gets an all_gather over dp.
// RUN: rose-opt %s --rose-shard-propagate="axis=dp" --rose-shard-partition="axis=dp" | FileCheck %s

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
