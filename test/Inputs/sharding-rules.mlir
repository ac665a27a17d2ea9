// One function that exercises every sharding rule (sharding-rules.test):
// a vocab-parallel embedding (7 rows: padded), partial + replicated, a fused
// QKV split by heads (groups = 3), attention, a reshape into heads and a
// transpose, softmax and gelu on the split, the reverse reshape, a row-parallel
// matmul with a bias, concat and slice, a column-parallel matmul, mul, a
// softmax over the split axis, a final matmul; then Llama's pieces: an RMS
// norm, separate q/k/v projections into grouped-query attention (4 heads, 2
// kv heads: at tp=4 the kv heads cannot be split, so it runs whole), SiLU,
// and a row-parallel output projection without a bias.
module {
rose.mesh @mesh(tp = TP)
func.func @rules(%ids: tensor<2x5xi64>, %x: tensor<2x5x8xf32>) -> tensor<2x5x8xf32> {
  %wte = rose.param "wte" : tensor<7x8xf32>
  %e = rose.embedding %wte[%ids] {rose.sharding = #rose.shard<partial>, rose.sharding_pad} : tensor<7x8xf32>, tensor<2x5xi64> -> tensor<2x5x8xf32>
  %h0 = rose.add %x, %e : tensor<2x5x8xf32>, tensor<2x5x8xf32> -> tensor<2x5x8xf32>
  %lw = rose.param "lw" : tensor<8xf32>
  %lb = rose.param "lb" : tensor<8xf32>
  %ln = rose.layer_norm %h0, %lw, %lb : tensor<2x5x8xf32>, tensor<8xf32>, tensor<8xf32> -> tensor<2x5x8xf32>
  %wqkv = rose.param "wqkv" : tensor<8x24xf32>
  %bqkv = rose.param "bqkv" : tensor<24xf32>
  %qkv = rose.matmul %ln, %wqkv, %bqkv {rose.sharding = #rose.shard<split = 2, groups = 3>} : tensor<2x5x8xf32>, tensor<8x24xf32>, tensor<24xf32> -> tensor<2x5x24xf32>
  %s:3 = rose.split %qkv axis 2 sizes [8, 8, 8] : tensor<2x5x24xf32> -> tensor<2x5x8xf32>, tensor<2x5x8xf32>, tensor<2x5x8xf32>
  %a = rose.attention %s#0, %s#1, %s#2 heads 2 causal : tensor<2x5x8xf32>, tensor<2x5x8xf32>, tensor<2x5x8xf32> -> tensor<2x5x8xf32>
  %r = rose.reshape %a [0, 0, 2, 4] : tensor<2x5x8xf32> -> tensor<2x5x2x4xf32>
  %t = rose.transpose %r [0, 2, 1, 3] : tensor<2x5x2x4xf32> -> tensor<2x2x5x4xf32>
  %sm = rose.softmax %t axis 3 : tensor<2x2x5x4xf32> -> tensor<2x2x5x4xf32>
  %g = rose.gelu %sm tanh : tensor<2x2x5x4xf32> -> tensor<2x2x5x4xf32>
  %u = rose.transpose %g [0, 2, 1, 3] : tensor<2x2x5x4xf32> -> tensor<2x5x2x4xf32>
  %m = rose.reshape %u [0, 0, 8] : tensor<2x5x2x4xf32> -> tensor<2x5x8xf32>
  %wo = rose.param "wo" : tensor<8x8xf32>
  %bo = rose.param "bo" : tensor<8xf32>
  %o = rose.matmul %m, %wo, %bo {rose.sharding = #rose.shard<partial>} : tensor<2x5x8xf32>, tensor<8x8xf32>, tensor<8xf32> -> tensor<2x5x8xf32>
  %res = rose.add %h0, %o : tensor<2x5x8xf32>, tensor<2x5x8xf32> -> tensor<2x5x8xf32>
  %c = rose.concat %res, %h0 axis 2 : tensor<2x5x8xf32>, tensor<2x5x8xf32> -> tensor<2x5x16xf32>
  %sl = rose.slice %c axis 2 from 4 to 12 : tensor<2x5x16xf32> -> tensor<2x5x8xf32>
  %wf = rose.param "wf" : tensor<8x12xf32>
  %f = rose.matmul %sl, %wf {rose.sharding = #rose.shard<split = 2>} : tensor<2x5x8xf32>, tensor<8x12xf32> -> tensor<2x5x12xf32>
  %mu = rose.mul %f, %f : tensor<2x5x12xf32>, tensor<2x5x12xf32> -> tensor<2x5x12xf32>
  %sm2 = rose.softmax %mu axis 2 : tensor<2x5x12xf32> -> tensor<2x5x12xf32>
  %wp = rose.param "wp" : tensor<12x8xf32>
  %p = rose.matmul %sm2, %wp : tensor<2x5x12xf32>, tensor<12x8xf32> -> tensor<2x5x8xf32>
  %y = rose.sub %p, %res : tensor<2x5x8xf32>, tensor<2x5x8xf32> -> tensor<2x5x8xf32>
  %rw = rose.param "rw" : tensor<8xf32>
  %rn = rose.rms_norm %y, %rw {epsilon = 1.0e-06 : f64} : tensor<2x5x8xf32>, tensor<8xf32> -> tensor<2x5x8xf32>
  %wq = rose.param "wq" : tensor<8x8xf32>
  %wk = rose.param "wk" : tensor<8x4xf32>
  %wv = rose.param "wv" : tensor<8x4xf32>
  %q = rose.matmul %rn, %wq {rose.sharding = #rose.shard<split = 2>} : tensor<2x5x8xf32>, tensor<8x8xf32> -> tensor<2x5x8xf32>
  %k = rose.matmul %rn, %wk {rose.sharding = #rose.shard<split = 2>} : tensor<2x5x8xf32>, tensor<8x4xf32> -> tensor<2x5x4xf32>
  %v = rose.matmul %rn, %wv {rose.sharding = #rose.shard<split = 2>} : tensor<2x5x8xf32>, tensor<8x4xf32> -> tensor<2x5x4xf32>
  %ga = rose.attention %q, %k, %v heads 4 kv_heads 2 causal : tensor<2x5x8xf32>, tensor<2x5x4xf32>, tensor<2x5x4xf32> -> tensor<2x5x8xf32>
  %sw = rose.silu %ga : tensor<2x5x8xf32> -> tensor<2x5x8xf32>
  %wo2 = rose.param "wo2" : tensor<8x8xf32>
  %o2 = rose.matmul %sw, %wo2 {rose.sharding = #rose.shard<partial>} : tensor<2x5x8xf32>, tensor<8x8xf32> -> tensor<2x5x8xf32>
  %z = rose.add %y, %o2 : tensor<2x5x8xf32>, tensor<2x5x8xf32> -> tensor<2x5x8xf32>
  return %z : tensor<2x5x8xf32>
}
}
