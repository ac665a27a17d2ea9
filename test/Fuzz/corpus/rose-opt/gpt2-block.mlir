// A GPT-2 (124M) transformer block with dynamic batch and sequence, as the
// importers write it: pre-LN attention with fused QKV, pre-LN MLP, residuals.
// RUN: rose-opt %s | FileCheck %s
// RUN: rose-opt %s -canonicalize -cse | FileCheck %s

// CHECK-LABEL: func @gpt2_block
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x768xf32>) -> tensor<?x?x768xf32>
// CHECK: %[[LN1:.*]] = rose.layer_norm %[[X]]
// CHECK: %[[QKV:.*]] = rose.matmul %[[LN1]], {{.*}} -> tensor<?x?x2304xf32>
// CHECK: %[[S:.*]]:3 = rose.split %[[QKV]] axis 2 sizes [768, 768, 768]
// CHECK: %[[ATT:.*]] = rose.attention %[[S]]#0, %[[S]]#1, %[[S]]#2 heads 12 causal
// CHECK: %[[O:.*]] = rose.matmul %[[ATT]]
// CHECK: %[[R1:.*]] = rose.add %[[X]], %[[O]]
// CHECK: %[[LN2:.*]] = rose.layer_norm %[[R1]]
// CHECK: %[[FC:.*]] = rose.matmul %[[LN2]], {{.*}} -> tensor<?x?x3072xf32>
// CHECK: %[[G:.*]] = rose.gelu %[[FC]] tanh
// CHECK: %[[PR:.*]] = rose.matmul %[[G]], {{.*}} -> tensor<?x?x768xf32>
// CHECK: %[[OUT:.*]] = rose.add %[[R1]], %[[PR]]
// CHECK: return %[[OUT]]
func.func @gpt2_block(%x: tensor<?x?x768xf32>) -> tensor<?x?x768xf32> {
  %b0_ln1w = rose.param "h.0.ln_1.weight" : tensor<768xf32>
  %b0_ln1b = rose.param "h.0.ln_1.bias" : tensor<768xf32>
  %b0_h1 = rose.layer_norm %x, %b0_ln1w, %b0_ln1b : tensor<?x?x768xf32>, tensor<768xf32>, tensor<768xf32> -> tensor<?x?x768xf32>
  %b0_wqkv = rose.param "h.0.attn.c_attn.weight" : tensor<768x2304xf32>
  %b0_bqkv = rose.param "h.0.attn.c_attn.bias" : tensor<2304xf32>
  %b0_qkv = rose.matmul %b0_h1, %b0_wqkv, %b0_bqkv : tensor<?x?x768xf32>, tensor<768x2304xf32>, tensor<2304xf32> -> tensor<?x?x2304xf32>
  %b0_s:3 = rose.split %b0_qkv axis 2 sizes [768, 768, 768] : tensor<?x?x2304xf32> -> tensor<?x?x768xf32>, tensor<?x?x768xf32>, tensor<?x?x768xf32>
  %b0_att = rose.attention %b0_s#0, %b0_s#1, %b0_s#2 heads 12 causal : tensor<?x?x768xf32>, tensor<?x?x768xf32>, tensor<?x?x768xf32> -> tensor<?x?x768xf32>
  %b0_wo = rose.param "h.0.attn.c_proj.weight" : tensor<768x768xf32>
  %b0_bo = rose.param "h.0.attn.c_proj.bias" : tensor<768xf32>
  %b0_o = rose.matmul %b0_att, %b0_wo, %b0_bo : tensor<?x?x768xf32>, tensor<768x768xf32>, tensor<768xf32> -> tensor<?x?x768xf32>
  %b0_r1 = rose.add %x, %b0_o : tensor<?x?x768xf32>, tensor<?x?x768xf32> -> tensor<?x?x768xf32>
  %b0_ln2w = rose.param "h.0.ln_2.weight" : tensor<768xf32>
  %b0_ln2b = rose.param "h.0.ln_2.bias" : tensor<768xf32>
  %b0_h2 = rose.layer_norm %b0_r1, %b0_ln2w, %b0_ln2b : tensor<?x?x768xf32>, tensor<768xf32>, tensor<768xf32> -> tensor<?x?x768xf32>
  %b0_wfc = rose.param "h.0.mlp.c_fc.weight" : tensor<768x3072xf32>
  %b0_bfc = rose.param "h.0.mlp.c_fc.bias" : tensor<3072xf32>
  %b0_fc = rose.matmul %b0_h2, %b0_wfc, %b0_bfc : tensor<?x?x768xf32>, tensor<768x3072xf32>, tensor<3072xf32> -> tensor<?x?x3072xf32>
  %b0_g = rose.gelu %b0_fc tanh : tensor<?x?x3072xf32> -> tensor<?x?x3072xf32>
  %b0_wpr = rose.param "h.0.mlp.c_proj.weight" : tensor<3072x768xf32>
  %b0_bpr = rose.param "h.0.mlp.c_proj.bias" : tensor<768xf32>
  %b0_pr = rose.matmul %b0_g, %b0_wpr, %b0_bpr : tensor<?x?x3072xf32>, tensor<3072x768xf32>, tensor<768xf32> -> tensor<?x?x768xf32>
  %b0_out = rose.add %b0_r1, %b0_pr : tensor<?x?x768xf32>, tensor<?x?x768xf32> -> tensor<?x?x768xf32>
  return %b0_out : tensor<?x?x768xf32>
}
