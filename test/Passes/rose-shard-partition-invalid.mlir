// Partition errors, each naming the param and what it needs.
// RUN: rose-opt %s -split-input-file --rose-shard-propagate --rose-shard-partition -verify-diagnostics -o /dev/null

// A param repeated per kv head must be split into blocks x times parts.
module {
rose.mesh @mesh(tp = 2)
func.func @repeated_kv_whole(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %w = rose.param "wk" repeat [1, 2, 2] : tensor<8x8xf32>
  // expected-error@+1 {{rose-shard-partition: param 'wk' repeats 2 blocks 2 times in dim 1; it must be split in that dim into 4 parts over tp}}
  %y = rose.matmul %x, %w {rose.sharding = #rose.shard<split = 1>} : tensor<4x8xf32>, tensor<8x8xf32> -> tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}
}
