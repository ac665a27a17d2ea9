// Every rose-shard-propagate error.
// RUN: rose-opt %s -split-input-file --rose-shard-propagate -verify-diagnostics -o /dev/null

module {
rose.mesh @mesh(tp = 2)
func.func @whole_axis(%x: tensor<4x6xf32>) -> tensor<4x6xf32> {
  // expected-error@+1 {{rose-shard-propagate: annotation #rose.shard<split = 1> on 'softmax' is not a layout this op can produce}}
  %s = rose.softmax %x axis 1 {rose.sharding = #rose.shard<split = 1>} : tensor<4x6xf32> -> tensor<4x6xf32>
  return %s : tensor<4x6xf32>
}
}

// -----

module {
rose.mesh @mesh(tp = 2)
func.func @indivisible(%x: tensor<4x8xf32>) -> tensor<4x5xf32> {
  %w = rose.param "w" : tensor<8x5xf32>
  // expected-error@+1 {{cannot split the output features of 'lm_head' over tp=2: 5 are not divisible by 2}}
  %y = rose.matmul %x, %w {rose.sharding = #rose.shard<split = 1>} : tensor<4x8xf32>, tensor<8x5xf32> -> tensor<4x5xf32>
  return %y : tensor<4x5xf32>
}
}

// -----

// expected-error@+1 {{rose-shard-propagate: the module has no rose.mesh (--rose-tp-shard seeds one: rose.mesh @mesh(tp = N))}}
module {
func.func @no_mesh(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}
}
