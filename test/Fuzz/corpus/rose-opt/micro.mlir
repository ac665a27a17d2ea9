module attributes {rose.gpt_config = {n_embd = 8 : i64, n_head = 2 : i64, n_inner = 16 : i64, n_layer = 1 : i64, n_positions = 6 : i64, vocab_size = 11 : i64}, rose.weights = "/tmp/seeds/hf/model.safetensors"} {
  func.func @forward(%arg0: tensor<?x?xi64>) -> tensor<?x?x11xf32> {
    %0 = rose.param "wte.weight" : tensor<11x8xf32>
    %1 = rose.embedding %0[%arg0] : tensor<11x8xf32>, tensor<?x?xi64> -> tensor<?x?x8xf32>
    %2 = rose.positions %arg0 : tensor<?x?xi64> -> tensor<?x?xi64>
    %3 = rose.param "wpe.weight" : tensor<6x8xf32>
    %4 = rose.embedding %3[%2] : tensor<6x8xf32>, tensor<?x?xi64> -> tensor<?x?x8xf32>
    %5 = rose.add %1, %4 : tensor<?x?x8xf32>, tensor<?x?x8xf32> -> tensor<?x?x8xf32>
    %6 = rose.param "h.0.ln_1.weight" : tensor<8xf32>
    %7 = rose.param "h.0.ln_1.bias" : tensor<8xf32>
    %8 = rose.layer_norm %5, %6, %7 {epsilon = 9.9999997473787516E-6 : f64} : tensor<?x?x8xf32>, tensor<8xf32>, tensor<8xf32> -> tensor<?x?x8xf32>
    %9 = rose.param "h.0.attn.c_attn.weight" : tensor<8x24xf32>
    %10 = rose.param "h.0.attn.c_attn.bias" : tensor<24xf32>
    %11 = rose.matmul %8, %9, %10 : tensor<?x?x8xf32>, tensor<8x24xf32>, tensor<24xf32> -> tensor<?x?x24xf32>
    %12:3 = rose.split %11 axis 2 sizes [8, 8, 8] : tensor<?x?x24xf32> -> tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>
    %13 = rose.attention %12#0, %12#1, %12#2 heads 2 causal : tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32> -> tensor<?x?x8xf32>
    %14 = rose.param "h.0.attn.c_proj.weight" : tensor<8x8xf32>
    %15 = rose.param "h.0.attn.c_proj.bias" : tensor<8xf32>
    %16 = rose.matmul %13, %14, %15 : tensor<?x?x8xf32>, tensor<8x8xf32>, tensor<8xf32> -> tensor<?x?x8xf32>
    %17 = rose.add %5, %16 : tensor<?x?x8xf32>, tensor<?x?x8xf32> -> tensor<?x?x8xf32>
    %18 = rose.param "h.0.ln_2.weight" : tensor<8xf32>
    %19 = rose.param "h.0.ln_2.bias" : tensor<8xf32>
    %20 = rose.layer_norm %17, %18, %19 {epsilon = 9.9999997473787516E-6 : f64} : tensor<?x?x8xf32>, tensor<8xf32>, tensor<8xf32> -> tensor<?x?x8xf32>
    %21 = rose.param "h.0.mlp.c_fc.weight" : tensor<8x16xf32>
    %22 = rose.param "h.0.mlp.c_fc.bias" : tensor<16xf32>
    %23 = rose.matmul %20, %21, %22 : tensor<?x?x8xf32>, tensor<8x16xf32>, tensor<16xf32> -> tensor<?x?x16xf32>
    %24 = rose.gelu %23 tanh : tensor<?x?x16xf32> -> tensor<?x?x16xf32>
    %25 = rose.param "h.0.mlp.c_proj.weight" : tensor<16x8xf32>
    %26 = rose.param "h.0.mlp.c_proj.bias" : tensor<8xf32>
    %27 = rose.matmul %24, %25, %26 : tensor<?x?x16xf32>, tensor<16x8xf32>, tensor<8xf32> -> tensor<?x?x8xf32>
    %28 = rose.add %17, %27 : tensor<?x?x8xf32>, tensor<?x?x8xf32> -> tensor<?x?x8xf32>
    %29 = rose.param "ln_f.weight" : tensor<8xf32>
    %30 = rose.param "ln_f.bias" : tensor<8xf32>
    %31 = rose.layer_norm %28, %29, %30 {epsilon = 9.9999997473787516E-6 : f64} : tensor<?x?x8xf32>, tensor<8xf32>, tensor<8xf32> -> tensor<?x?x8xf32>
    %32 = rose.matmul %31, %0 {transpose_rhs} : tensor<?x?x8xf32>, tensor<11x8xf32> -> tensor<?x?x11xf32>
    return %32 : tensor<?x?x11xf32>
  }
}
