// A one-block GPT-style model written only in primitive ops, the way an ONNX
// export arrives before --rose-raise: layer norm from reduce/sub/pow/sqrt/div,
// attention from reshape/transpose, a batched q k^T matmul of two
// activations, a clamp by less/where and max/min, softmax and p v; the MLP's
// tanh GELU spelled out with pow and tanh, and a second MLP branch with
// sigmoid-gating written as x * reciprocal(1 + exp(-x)) plus erf, not, equal
// and greater. Position embeddings gather rows at an iota; a causal mask
// from fill/trilu/not (and trilu upper) sets -inf by where. Angles from the
// positions cast to floats rotate the embeddings by cos/sin, as Hugging
// Face's rotary embedding computes its tables. The user annotates q/k/v colwise and o rowwise; propagation
// carries the head split through the reshapes, transposes and batched
// matmuls with no attention op in sight.
module {
func.func @forward(%ids: tensor<?x?xi64>) -> tensor<?x?x32xf32> {
  %emb = rose.param "embed" : tensor<32x16xf32>
  %tok = rose.embedding %emb[%ids] : tensor<32x16xf32>, tensor<?x?xi64> -> tensor<?x?x16xf32>
  %pos = rose.iota %ids dim 1 : tensor<?x?xi64> -> tensor<?xi64>
  %wpe = rose.param "wpe" : tensor<16x16xf32>
  %pe = rose.gather %wpe, %pos axis 0 : tensor<16x16xf32>, tensor<?xi64> -> tensor<?x16xf32>
  %x0 = rose.add %tok, %pe : tensor<?x?x16xf32>, tensor<?x16xf32> -> tensor<?x?x16xf32>
  %posf = rose.cast %pos : tensor<?xi64> -> tensor<?xf32>
  %posc = rose.reshape %posf [-1, 1] : tensor<?xf32> -> tensor<?x1xf32>
  %freq = rose.constant dense<[1.0, 0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.0078125, 1.0, 0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.0078125]> : tensor<16xf32>
  %ang = rose.mul %posc, %freq : tensor<?x1xf32>, tensor<16xf32> -> tensor<?x16xf32>
  %cos = rose.cos %ang : tensor<?x16xf32> -> tensor<?x16xf32>
  %sin = rose.sin %ang : tensor<?x16xf32> -> tensor<?x16xf32>
  %xc = rose.mul %x0, %cos : tensor<?x?x16xf32>, tensor<?x16xf32> -> tensor<?x?x16xf32>
  %ts = rose.mul %tok, %sin : tensor<?x?x16xf32>, tensor<?x16xf32> -> tensor<?x?x16xf32>
  %x = rose.add %xc, %ts : tensor<?x?x16xf32>, tensor<?x?x16xf32> -> tensor<?x?x16xf32>
  %two = rose.constant dense<2.0> : tensor<f32>
  %three = rose.constant dense<3.0> : tensor<f32>
  %half = rose.constant dense<0.5> : tensor<f32>
  %one = rose.constant dense<1.0> : tensor<f32>
  %eps = rose.constant dense<1.0e-05> : tensor<f32>
  %mean = rose.reduce mean %x axis 2 : tensor<?x?x16xf32> -> tensor<?x?x1xf32>
  %c = rose.sub %x, %mean : tensor<?x?x16xf32>, tensor<?x?x1xf32> -> tensor<?x?x16xf32>
  %sq = rose.pow %c, %two : tensor<?x?x16xf32>, tensor<f32> -> tensor<?x?x16xf32>
  %var = rose.reduce mean %sq axis -1 : tensor<?x?x16xf32> -> tensor<?x?x1xf32>
  %ve = rose.add %var, %eps : tensor<?x?x1xf32>, tensor<f32> -> tensor<?x?x1xf32>
  %sd = rose.sqrt %ve : tensor<?x?x1xf32> -> tensor<?x?x1xf32>
  %nrm = rose.div %c, %sd : tensor<?x?x16xf32>, tensor<?x?x1xf32> -> tensor<?x?x16xf32>
  %lw = rose.param "ln.w" : tensor<16xf32>
  %lb = rose.param "ln.b" : tensor<16xf32>
  %hs = rose.mul %nrm, %lw : tensor<?x?x16xf32>, tensor<16xf32> -> tensor<?x?x16xf32>
  %h = rose.add %hs, %lb : tensor<?x?x16xf32>, tensor<16xf32> -> tensor<?x?x16xf32>
  %wq = rose.param "wq" : tensor<16x16xf32>
  %wk = rose.param "wk" : tensor<16x16xf32>
  %wv = rose.param "wv" : tensor<16x16xf32>
  %q = rose.matmul %h, %wq {rose.sharding = #rose.shard<split = 2>} : tensor<?x?x16xf32>, tensor<16x16xf32> -> tensor<?x?x16xf32>
  %k = rose.matmul %h, %wk {rose.sharding = #rose.shard<split = 2>} : tensor<?x?x16xf32>, tensor<16x16xf32> -> tensor<?x?x16xf32>
  %v = rose.matmul %h, %wv {rose.sharding = #rose.shard<split = 2>} : tensor<?x?x16xf32>, tensor<16x16xf32> -> tensor<?x?x16xf32>
  %q4 = rose.reshape %q [0, 0, 4, 4] : tensor<?x?x16xf32> -> tensor<?x?x4x4xf32>
  %k4 = rose.reshape %k [0, 0, 4, 4] : tensor<?x?x16xf32> -> tensor<?x?x4x4xf32>
  %v4 = rose.reshape %v [0, 0, 4, 4] : tensor<?x?x16xf32> -> tensor<?x?x4x4xf32>
  %qt = rose.transpose %q4 [0, 2, 1, 3] : tensor<?x?x4x4xf32> -> tensor<?x4x?x4xf32>
  %kt = rose.transpose %k4 [0, 2, 1, 3] : tensor<?x?x4x4xf32> -> tensor<?x4x?x4xf32>
  %vt = rose.transpose %v4 [0, 2, 1, 3] : tensor<?x?x4x4xf32> -> tensor<?x4x?x4xf32>
  %s = rose.matmul %qt, %kt {transpose_rhs} : tensor<?x4x?x4xf32>, tensor<?x4x?x4xf32> -> tensor<?x4x?x?xf32>
  %ss = rose.mul %s, %half : tensor<?x4x?x?xf32>, tensor<f32> -> tensor<?x4x?x?xf32>
  %lt = rose.less %ss, %two : tensor<?x4x?x?xf32>, tensor<f32> -> tensor<?x4x?x?xf32>
  %cl = rose.where %lt, %ss, %two : tensor<?x4x?x?xf32>, tensor<?x4x?x?xf32>, tensor<f32> -> tensor<?x4x?x?xf32>
  %lo = rose.neg %three : tensor<f32> -> tensor<f32>
  %cm = rose.max %cl, %lo : tensor<?x4x?x?xf32>, tensor<f32> -> tensor<?x4x?x?xf32>
  %ones = rose.fill %ids dims [1, 1] value 1.0 : tensor<?x?xi64> -> tensor<?x?xf32>
  %tri = rose.trilu %ones k 0 : tensor<?x?xf32> -> tensor<?x?xf32>
  %ntri = rose.not %tri : tensor<?x?xf32> -> tensor<?x?xf32>
  %up = rose.trilu %ones k 1 upper : tensor<?x?xf32> -> tensor<?x?xf32>
  %mask = rose.min %ntri, %up : tensor<?x?xf32>, tensor<?x?xf32> -> tensor<?x?xf32>
  %ninf = rose.constant dense<0xFF800000> : tensor<f32>
  %cmm = rose.where %mask, %ninf, %cm : tensor<?x?xf32>, tensor<f32>, tensor<?x4x?x?xf32> -> tensor<?x4x?x?xf32>
  %p = rose.softmax %cmm axis 3 : tensor<?x4x?x?xf32> -> tensor<?x4x?x?xf32>
  %ot = rose.matmul %p, %vt : tensor<?x4x?x?xf32>, tensor<?x4x?x4xf32> -> tensor<?x4x?x4xf32>
  %o4 = rose.transpose %ot [0, 2, 1, 3] : tensor<?x4x?x4xf32> -> tensor<?x?x4x4xf32>
  %o = rose.reshape %o4 [0, 0, 16] : tensor<?x?x4x4xf32> -> tensor<?x?x16xf32>
  %wo = rose.param "wo" : tensor<16x16xf32>
  %ao = rose.matmul %o, %wo {rose.sharding = #rose.shard<partial>} : tensor<?x?x16xf32>, tensor<16x16xf32> -> tensor<?x?x16xf32>
  %r = rose.add %x, %ao : tensor<?x?x16xf32>, tensor<?x?x16xf32> -> tensor<?x?x16xf32>
  %wfc = rose.param "wfc" : tensor<16x24xf32>
  %f = rose.matmul %r, %wfc {rose.sharding = #rose.shard<split = 2>} : tensor<?x?x16xf32>, tensor<16x24xf32> -> tensor<?x?x24xf32>
  %cube = rose.pow %f, %three : tensor<?x?x24xf32>, tensor<f32> -> tensor<?x?x24xf32>
  %k1 = rose.constant dense<0.044715> : tensor<f32>
  %t1 = rose.mul %cube, %k1 : tensor<?x?x24xf32>, tensor<f32> -> tensor<?x?x24xf32>
  %t2 = rose.add %f, %t1 : tensor<?x?x24xf32>, tensor<?x?x24xf32> -> tensor<?x?x24xf32>
  %k2 = rose.constant dense<0.7978845608> : tensor<f32>
  %t3 = rose.mul %t2, %k2 : tensor<?x?x24xf32>, tensor<f32> -> tensor<?x?x24xf32>
  %t4 = rose.tanh %t3 : tensor<?x?x24xf32> -> tensor<?x?x24xf32>
  %t5 = rose.add %t4, %one : tensor<?x?x24xf32>, tensor<f32> -> tensor<?x?x24xf32>
  %t6 = rose.mul %f, %t5 : tensor<?x?x24xf32>, tensor<?x?x24xf32> -> tensor<?x?x24xf32>
  %gl = rose.mul %t6, %half : tensor<?x?x24xf32>, tensor<f32> -> tensor<?x?x24xf32>
  %nf = rose.neg %f : tensor<?x?x24xf32> -> tensor<?x?x24xf32>
  %ef = rose.exp %nf : tensor<?x?x24xf32> -> tensor<?x?x24xf32>
  %e1 = rose.add %ef, %one : tensor<?x?x24xf32>, tensor<f32> -> tensor<?x?x24xf32>
  %sg = rose.reciprocal %e1 : tensor<?x?x24xf32> -> tensor<?x?x24xf32>
  %sg2 = rose.sigmoid %f : tensor<?x?x24xf32> -> tensor<?x?x24xf32>
  %sgm = rose.min %sg, %sg2 : tensor<?x?x24xf32>, tensor<?x?x24xf32> -> tensor<?x?x24xf32>
  %er = rose.erf %f : tensor<?x?x24xf32> -> tensor<?x?x24xf32>
  %gt = rose.greater %f, %half : tensor<?x?x24xf32>, tensor<f32> -> tensor<?x?x24xf32>
  %ng = rose.not %gt : tensor<?x?x24xf32> -> tensor<?x?x24xf32>
  %eq = rose.equal %ng, %one : tensor<?x?x24xf32>, tensor<f32> -> tensor<?x?x24xf32>
  %sel = rose.where %eq, %er, %sgm : tensor<?x?x24xf32>, tensor<?x?x24xf32>, tensor<?x?x24xf32> -> tensor<?x?x24xf32>
  %mix = rose.add %gl, %sel : tensor<?x?x24xf32>, tensor<?x?x24xf32> -> tensor<?x?x24xf32>
  %wp = rose.param "wp" : tensor<24x16xf32>
  %d = rose.matmul %mix, %wp {rose.sharding = #rose.shard<partial>} : tensor<?x?x24xf32>, tensor<24x16xf32> -> tensor<?x?x16xf32>
  %r2 = rose.add %r, %d : tensor<?x?x16xf32>, tensor<?x?x16xf32> -> tensor<?x?x16xf32>
  %tot = rose.reduce sum %r2 axis 2 : tensor<?x?x16xf32> -> tensor<?x?x1xf32>
  %mx = rose.reduce max %r2 axis 2 : tensor<?x?x16xf32> -> tensor<?x?x1xf32>
  %sh = rose.sub %tot, %mx : tensor<?x?x1xf32>, tensor<?x?x1xf32> -> tensor<?x?x1xf32>
  %sc = rose.mul %sh, %half : tensor<?x?x1xf32>, tensor<f32> -> tensor<?x?x1xf32>
  %r3 = rose.add %r2, %sc : tensor<?x?x16xf32>, tensor<?x?x1xf32> -> tensor<?x?x16xf32>
  %logits = rose.matmul %r3, %emb {transpose_rhs} : tensor<?x?x16xf32>, tensor<32x16xf32> -> tensor<?x?x32xf32>
  return %logits : tensor<?x?x32xf32>
}
}
