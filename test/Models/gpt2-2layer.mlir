// A 2-layer GPT-2 in the rosellm test config (vocab 10000, 128 positions,
// d_model 64, 4 heads, d_ff 256) with a tied LM head and dynamic batch/seq.
// RUN: rose-opt %s | FileCheck %s
// RUN: rose-opt %s -canonicalize -cse | FileCheck %s

// CHECK-LABEL: func @gpt2
// CHECK-SAME: (%[[IDS:.*]]: tensor<?x?xi64>) -> tensor<?x?x10000xf32>
// CHECK-DAG: %[[WTE:.*]] = rose.param "wte.weight" : tensor<10000x64xf32>
// CHECK: rose.embedding %[[WTE]][%[[IDS]]]
// CHECK: %[[POS:.*]] = rose.positions %[[IDS]]
// CHECK: rose.embedding %{{.*}}[%[[POS]]]
// CHECK: rose.attention {{.*}} heads 4 causal
// CHECK: rose.gelu
// CHECK: rose.attention {{.*}} heads 4 causal
// CHECK: rose.gelu
// CHECK: %[[HF:.*]] = rose.layer_norm
// CHECK: %[[LOGITS:.*]] = rose.matmul %[[HF]], %[[WTE]] {transpose_rhs} : tensor<?x?x64xf32>, tensor<10000x64xf32> -> tensor<?x?x10000xf32>
// CHECK: return %[[LOGITS]]
func.func @gpt2(%ids: tensor<?x?xi64>) -> tensor<?x?x10000xf32> {
  %wte = rose.param "wte.weight" : tensor<10000x64xf32>
  %wpe = rose.param "wpe.weight" : tensor<128x64xf32>
  %tok = rose.embedding %wte[%ids] : tensor<10000x64xf32>, tensor<?x?xi64> -> tensor<?x?x64xf32>
  %pos = rose.positions %ids : tensor<?x?xi64> -> tensor<?x?xi64>
  %pemb = rose.embedding %wpe[%pos] : tensor<128x64xf32>, tensor<?x?xi64> -> tensor<?x?x64xf32>
  %x0 = rose.add %tok, %pemb : tensor<?x?x64xf32>, tensor<?x?x64xf32> -> tensor<?x?x64xf32>
  %b0_ln1w = rose.param "h.0.ln_1.weight" : tensor<64xf32>
  %b0_ln1b = rose.param "h.0.ln_1.bias" : tensor<64xf32>
  %b0_h1 = rose.layer_norm %x0, %b0_ln1w, %b0_ln1b : tensor<?x?x64xf32>, tensor<64xf32>, tensor<64xf32> -> tensor<?x?x64xf32>
  %b0_wqkv = rose.param "h.0.attn.c_attn.weight" : tensor<64x192xf32>
  %b0_bqkv = rose.param "h.0.attn.c_attn.bias" : tensor<192xf32>
  %b0_qkv = rose.matmul %b0_h1, %b0_wqkv, %b0_bqkv : tensor<?x?x64xf32>, tensor<64x192xf32>, tensor<192xf32> -> tensor<?x?x192xf32>
  %b0_s:3 = rose.split %b0_qkv axis 2 sizes [64, 64, 64] : tensor<?x?x192xf32> -> tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>
  %b0_att = rose.attention %b0_s#0, %b0_s#1, %b0_s#2 heads 4 causal : tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32> -> tensor<?x?x64xf32>
  %b0_wo = rose.param "h.0.attn.c_proj.weight" : tensor<64x64xf32>
  %b0_bo = rose.param "h.0.attn.c_proj.bias" : tensor<64xf32>
  %b0_o = rose.matmul %b0_att, %b0_wo, %b0_bo : tensor<?x?x64xf32>, tensor<64x64xf32>, tensor<64xf32> -> tensor<?x?x64xf32>
  %b0_r1 = rose.add %x0, %b0_o : tensor<?x?x64xf32>, tensor<?x?x64xf32> -> tensor<?x?x64xf32>
  %b0_ln2w = rose.param "h.0.ln_2.weight" : tensor<64xf32>
  %b0_ln2b = rose.param "h.0.ln_2.bias" : tensor<64xf32>
  %b0_h2 = rose.layer_norm %b0_r1, %b0_ln2w, %b0_ln2b : tensor<?x?x64xf32>, tensor<64xf32>, tensor<64xf32> -> tensor<?x?x64xf32>
  %b0_wfc = rose.param "h.0.mlp.c_fc.weight" : tensor<64x256xf32>
  %b0_bfc = rose.param "h.0.mlp.c_fc.bias" : tensor<256xf32>
  %b0_fc = rose.matmul %b0_h2, %b0_wfc, %b0_bfc : tensor<?x?x64xf32>, tensor<64x256xf32>, tensor<256xf32> -> tensor<?x?x256xf32>
  %b0_g = rose.gelu %b0_fc tanh : tensor<?x?x256xf32> -> tensor<?x?x256xf32>
  %b0_wpr = rose.param "h.0.mlp.c_proj.weight" : tensor<256x64xf32>
  %b0_bpr = rose.param "h.0.mlp.c_proj.bias" : tensor<64xf32>
  %b0_pr = rose.matmul %b0_g, %b0_wpr, %b0_bpr : tensor<?x?x256xf32>, tensor<256x64xf32>, tensor<64xf32> -> tensor<?x?x64xf32>
  %b0_out = rose.add %b0_r1, %b0_pr : tensor<?x?x64xf32>, tensor<?x?x64xf32> -> tensor<?x?x64xf32>
  %b1_ln1w = rose.param "h.1.ln_1.weight" : tensor<64xf32>
  %b1_ln1b = rose.param "h.1.ln_1.bias" : tensor<64xf32>
  %b1_h1 = rose.layer_norm %b0_out, %b1_ln1w, %b1_ln1b : tensor<?x?x64xf32>, tensor<64xf32>, tensor<64xf32> -> tensor<?x?x64xf32>
  %b1_wqkv = rose.param "h.1.attn.c_attn.weight" : tensor<64x192xf32>
  %b1_bqkv = rose.param "h.1.attn.c_attn.bias" : tensor<192xf32>
  %b1_qkv = rose.matmul %b1_h1, %b1_wqkv, %b1_bqkv : tensor<?x?x64xf32>, tensor<64x192xf32>, tensor<192xf32> -> tensor<?x?x192xf32>
  %b1_s:3 = rose.split %b1_qkv axis 2 sizes [64, 64, 64] : tensor<?x?x192xf32> -> tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>
  %b1_att = rose.attention %b1_s#0, %b1_s#1, %b1_s#2 heads 4 causal : tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32> -> tensor<?x?x64xf32>
  %b1_wo = rose.param "h.1.attn.c_proj.weight" : tensor<64x64xf32>
  %b1_bo = rose.param "h.1.attn.c_proj.bias" : tensor<64xf32>
  %b1_o = rose.matmul %b1_att, %b1_wo, %b1_bo : tensor<?x?x64xf32>, tensor<64x64xf32>, tensor<64xf32> -> tensor<?x?x64xf32>
  %b1_r1 = rose.add %b0_out, %b1_o : tensor<?x?x64xf32>, tensor<?x?x64xf32> -> tensor<?x?x64xf32>
  %b1_ln2w = rose.param "h.1.ln_2.weight" : tensor<64xf32>
  %b1_ln2b = rose.param "h.1.ln_2.bias" : tensor<64xf32>
  %b1_h2 = rose.layer_norm %b1_r1, %b1_ln2w, %b1_ln2b : tensor<?x?x64xf32>, tensor<64xf32>, tensor<64xf32> -> tensor<?x?x64xf32>
  %b1_wfc = rose.param "h.1.mlp.c_fc.weight" : tensor<64x256xf32>
  %b1_bfc = rose.param "h.1.mlp.c_fc.bias" : tensor<256xf32>
  %b1_fc = rose.matmul %b1_h2, %b1_wfc, %b1_bfc : tensor<?x?x64xf32>, tensor<64x256xf32>, tensor<256xf32> -> tensor<?x?x256xf32>
  %b1_g = rose.gelu %b1_fc tanh : tensor<?x?x256xf32> -> tensor<?x?x256xf32>
  %b1_wpr = rose.param "h.1.mlp.c_proj.weight" : tensor<256x64xf32>
  %b1_bpr = rose.param "h.1.mlp.c_proj.bias" : tensor<64xf32>
  %b1_pr = rose.matmul %b1_g, %b1_wpr, %b1_bpr : tensor<?x?x256xf32>, tensor<256x64xf32>, tensor<64xf32> -> tensor<?x?x64xf32>
  %b1_out = rose.add %b1_r1, %b1_pr : tensor<?x?x64xf32>, tensor<?x?x64xf32> -> tensor<?x?x64xf32>
  %lnfw = rose.param "ln_f.weight" : tensor<64xf32>
  %lnfb = rose.param "ln_f.bias" : tensor<64xf32>
  %hf = rose.layer_norm %b1_out, %lnfw, %lnfb : tensor<?x?x64xf32>, tensor<64xf32>, tensor<64xf32> -> tensor<?x?x64xf32>
  %logits = rose.matmul %hf, %wte {transpose_rhs} : tensor<?x?x64xf32>, tensor<10000x64xf32> -> tensor<?x?x10000xf32>
  return %logits : tensor<?x?x10000xf32>
}
