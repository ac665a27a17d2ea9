// A one-block Llama-style model written by hand (issue 16's ops before the
// importer): RMS norms, separate q/k/v projections, rotary embeddings (theta
// 100 over head dim 4: inv_freq [1, 0.1]) on q and k, grouped-query
// attention (4 heads over 2 kv heads), a SiLU-gated MLP, a tied LM head.
// User annotations shard q/k/v and gate/up colwise and o/down rowwise; the
// auto plan adds the LM head.
module {
func.func @forward(%ids: tensor<?x?xi64>) -> tensor<?x?x32xf32> {
  %emb = rose.param "embed" : tensor<32x16xf32>
  %x = rose.embedding %emb[%ids] : tensor<32x16xf32>, tensor<?x?xi64> -> tensor<?x?x16xf32>
  %n1 = rose.param "n1" : tensor<16xf32>
  %h = rose.rms_norm %x, %n1 {epsilon = 1.0e-05 : f64} : tensor<?x?x16xf32>, tensor<16xf32> -> tensor<?x?x16xf32>
  %wq = rose.param "wq" : tensor<16x16xf32>
  %wk = rose.param "wk" : tensor<16x8xf32>
  %wv = rose.param "wv" : tensor<16x8xf32>
  %q = rose.matmul %h, %wq {rose.sharding = #rose.shard<split = 2>} : tensor<?x?x16xf32>, tensor<16x16xf32> -> tensor<?x?x16xf32>
  %k = rose.matmul %h, %wk {rose.sharding = #rose.shard<split = 2>} : tensor<?x?x16xf32>, tensor<16x8xf32> -> tensor<?x?x8xf32>
  %v = rose.matmul %h, %wv {rose.sharding = #rose.shard<split = 2>} : tensor<?x?x16xf32>, tensor<16x8xf32> -> tensor<?x?x8xf32>
  %pos = rose.positions %ids : tensor<?x?xi64> -> tensor<?x?xi64>
  %qr = rose.rotary %q, %pos heads 4 inv_freq [1.0, 0.1] : tensor<?x?x16xf32>, tensor<?x?xi64> -> tensor<?x?x16xf32>
  %kr = rose.rotary %k, %pos heads 2 inv_freq [1.0, 0.1] : tensor<?x?x8xf32>, tensor<?x?xi64> -> tensor<?x?x8xf32>
  %a = rose.attention %qr, %kr, %v heads 4 kv_heads 2 causal : tensor<?x?x16xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32> -> tensor<?x?x16xf32>
  %wo = rose.param "wo" : tensor<16x16xf32>
  %o = rose.matmul %a, %wo {rose.sharding = #rose.shard<partial>} : tensor<?x?x16xf32>, tensor<16x16xf32> -> tensor<?x?x16xf32>
  %r = rose.add %x, %o : tensor<?x?x16xf32>, tensor<?x?x16xf32> -> tensor<?x?x16xf32>
  %n2 = rose.param "n2" : tensor<16xf32>
  %h2 = rose.rms_norm %r, %n2 {epsilon = 1.0e-05 : f64} : tensor<?x?x16xf32>, tensor<16xf32> -> tensor<?x?x16xf32>
  %wg = rose.param "wg" : tensor<16x24xf32>
  %wu = rose.param "wu" : tensor<16x24xf32>
  %g = rose.matmul %h2, %wg {rose.sharding = #rose.shard<split = 2>} : tensor<?x?x16xf32>, tensor<16x24xf32> -> tensor<?x?x24xf32>
  %u = rose.matmul %h2, %wu {rose.sharding = #rose.shard<split = 2>} : tensor<?x?x16xf32>, tensor<16x24xf32> -> tensor<?x?x24xf32>
  %s = rose.silu %g : tensor<?x?x24xf32> -> tensor<?x?x24xf32>
  %m = rose.mul %s, %u : tensor<?x?x24xf32>, tensor<?x?x24xf32> -> tensor<?x?x24xf32>
  %wd = rose.param "wd" : tensor<24x16xf32>
  %d = rose.matmul %m, %wd {rose.sharding = #rose.shard<partial>} : tensor<?x?x24xf32>, tensor<24x16xf32> -> tensor<?x?x16xf32>
  %r2 = rose.add %r, %d : tensor<?x?x16xf32>, tensor<?x?x16xf32> -> tensor<?x?x16xf32>
  %nf = rose.param "nf" : tensor<16xf32>
  %hf = rose.rms_norm %r2, %nf {epsilon = 1.0e-05 : f64} : tensor<?x?x16xf32>, tensor<16xf32> -> tensor<?x?x16xf32>
  %logits = rose.matmul %hf, %emb {transpose_rhs} : tensor<?x?x16xf32>, tensor<32x16xf32> -> tensor<?x?x32xf32>
  return %logits : tensor<?x?x32xf32>
}
}
