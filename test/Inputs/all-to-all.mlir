// A split that moves from one dim to another (all-to-all.test): a
// column-parallel matmul leaves [batch, seq, 16] split on features; the user
// asks for the GELU split on the sequence instead (the layout of sequence
// parallelism), so the partitioner moves the split with one all_to_all; the
// next matmul runs on its sequence rows and the logits are gathered on the
// sequence.
module {
func.func @forward(%ids: tensor<?x?xi64>) -> tensor<?x?x32xf32> {
  %wte = rose.param "wte" : tensor<32x8xf32>
  %e = rose.embedding %wte[%ids] : tensor<32x8xf32>, tensor<?x?xi64> -> tensor<?x?x8xf32>
  %w1 = rose.param "w1" : tensor<8x16xf32>
  %h = rose.matmul %e, %w1 {rose.sharding = #rose.shard<split = 2>} : tensor<?x?x8xf32>, tensor<8x16xf32> -> tensor<?x?x16xf32>
  %g = rose.gelu %h tanh {rose.sharding = #rose.shard<split = 1>} : tensor<?x?x16xf32> -> tensor<?x?x16xf32>
  %w2 = rose.param "w2" : tensor<16x32xf32>
  %y = rose.matmul %g, %w2 : tensor<?x?x16xf32>, tensor<16x32xf32> -> tensor<?x?x32xf32>
  return %y : tensor<?x?x32xf32>
}
}
