// Round trip: parse, print, parse again (custom and generic forms).
// RUN: rose-opt %s | rose-opt | FileCheck %s
// RUN: rose-opt %s -mlir-print-op-generic | rose-opt | FileCheck %s

// CHECK: module attributes {rose.gpt_config = {n_layer = 2 : i64}, rose.weights = "model.safetensors"}
module attributes {rose.weights = "model.safetensors", rose.gpt_config = {n_layer = 2 : i64}} {

// CHECK: rose.mesh @mesh(dp = 2, tp = 4)
rose.mesh @mesh(dp = 2, tp = 4)

// CHECK-LABEL: func @params
func.func @params() -> (tensor<768x2304xf32>, tensor<4xbf16>) {
  // CHECK: rose.param "h.0.attn.c_attn.weight" : tensor<768x2304xf32>
  %w = rose.param "h.0.attn.c_attn.weight" : tensor<768x2304xf32>
  // CHECK: rose.param "h.0.attn.c_attn.weight" slice <dim = 1, parts = 2, groups = 3, full = [768, 2304]> : tensor<768x1152xf32>
  %s = rose.param "h.0.attn.c_attn.weight" slice <dim = 1, parts = 2, groups = 3, full = [768, 2304]> : tensor<768x1152xf32>
  // CHECK: rose.param "wte.weight" slice <dim = 0, parts = 4, groups = 1, full = [10, 8]> : tensor<3x8xf32>
  %p = rose.param "wte.weight" slice <dim = 0, parts = 4, groups = 1, full = [10, 8]> : tensor<3x8xf32>
  // CHECK: rose.param "ln_f.bias" : tensor<4xbf16>
  %b = rose.param "ln_f.bias" : tensor<4xbf16>
  return %w, %b : tensor<768x2304xf32>, tensor<4xbf16>
}

// CHECK-LABEL: func @constant
func.func @constant() -> tensor<2xf32> {
  // CHECK: rose.constant dense<[1.000000e+00, 2.000000e+00]> : tensor<2xf32>
  %c = rose.constant dense<[1.0, 2.0]> : tensor<2xf32>
  return %c : tensor<2xf32>
}

// CHECK-LABEL: func @embedding
func.func @embedding(%ids: tensor<?x?xi64>, %ids32: tensor<3xi32>) -> (tensor<?x?x8xf32>, tensor<3x8xf32>) {
  %t = rose.param "wte.weight" : tensor<100x8xf32>
  // CHECK: rose.embedding %{{.*}}[%{{.*}}] : tensor<100x8xf32>, tensor<?x?xi64> -> tensor<?x?x8xf32>
  %x = rose.embedding %t[%ids] : tensor<100x8xf32>, tensor<?x?xi64> -> tensor<?x?x8xf32>
  // CHECK: rose.embedding %{{.*}}[%{{.*}}] {vocab_shards = 4 : i64} : tensor<100x8xf32>, tensor<3xi32> -> tensor<3x8xf32>
  %y = rose.embedding %t[%ids32] {vocab_shards = 4} : tensor<100x8xf32>, tensor<3xi32> -> tensor<3x8xf32>
  return %x, %y : tensor<?x?x8xf32>, tensor<3x8xf32>
}

// CHECK-LABEL: func @positions
func.func @positions(%ids: tensor<?x?xi64>) -> (tensor<?x?xi64>, tensor<?x?xi64>) {
  // CHECK: rose.positions %{{.*}} : tensor<?x?xi64> -> tensor<?x?xi64>
  %p = rose.positions %ids : tensor<?x?xi64> -> tensor<?x?xi64>
  // CHECK: rose.positions %{{.*}} {offset = 7 : i64} : tensor<?x?xi64> -> tensor<?x?xi64>
  %q = rose.positions %ids {offset = 7} : tensor<?x?xi64> -> tensor<?x?xi64>
  return %p, %q : tensor<?x?xi64>, tensor<?x?xi64>
}

// CHECK-LABEL: func @matmul
func.func @matmul(%x: tensor<?x?x8xf32>, %a: tensor<2x1x3x8xf16>, %b: tensor<5x8x4xf16>)
    -> (tensor<?x?x16xf32>, tensor<?x?x100xf32>, tensor<2x5x3x4xf16>) {
  %w = rose.param "w" : tensor<8x16xf32>
  %bias = rose.param "b" : tensor<16xf32>
  %wte = rose.param "wte" : tensor<100x8xf32>
  // CHECK: rose.matmul %{{.*}}, %{{.*}}, %{{.*}} : tensor<?x?x8xf32>, tensor<8x16xf32>, tensor<16xf32> -> tensor<?x?x16xf32>
  %y = rose.matmul %x, %w, %bias : tensor<?x?x8xf32>, tensor<8x16xf32>, tensor<16xf32> -> tensor<?x?x16xf32>
  // CHECK: rose.matmul %{{.*}}, %{{.*}} {transpose_rhs} : tensor<?x?x8xf32>, tensor<100x8xf32> -> tensor<?x?x100xf32>
  %l = rose.matmul %x, %wte {transpose_rhs} : tensor<?x?x8xf32>, tensor<100x8xf32> -> tensor<?x?x100xf32>
  // CHECK: rose.matmul %{{.*}}, %{{.*}} : tensor<2x1x3x8xf16>, tensor<5x8x4xf16> -> tensor<2x5x3x4xf16>
  %z = rose.matmul %a, %b : tensor<2x1x3x8xf16>, tensor<5x8x4xf16> -> tensor<2x5x3x4xf16>
  return %y, %l, %z : tensor<?x?x16xf32>, tensor<?x?x100xf32>, tensor<2x5x3x4xf16>
}

// CHECK-LABEL: func @elementwise
func.func @elementwise(%x: tensor<?x?x8xf32>, %v: tensor<8xf32>, %s: tensor<1x?x1xf32>) -> tensor<?x?x8xf32> {
  // CHECK: rose.add %{{.*}}, %{{.*}} : tensor<?x?x8xf32>, tensor<8xf32> -> tensor<?x?x8xf32>
  %0 = rose.add %x, %v : tensor<?x?x8xf32>, tensor<8xf32> -> tensor<?x?x8xf32>
  // CHECK: rose.sub
  %1 = rose.sub %0, %s : tensor<?x?x8xf32>, tensor<1x?x1xf32> -> tensor<?x?x8xf32>
  // CHECK: rose.mul
  %2 = rose.mul %1, %v : tensor<?x?x8xf32>, tensor<8xf32> -> tensor<?x?x8xf32>
  // CHECK: rose.div
  %3 = rose.div %2, %x : tensor<?x?x8xf32>, tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  return %3 : tensor<?x?x8xf32>
}

// CHECK-LABEL: func @norm_act
func.func @norm_act(%x: tensor<?x?x8xf32>) -> (tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>) {
  %g = rose.param "ln.weight" : tensor<8xf32>
  %b = rose.param "ln.bias" : tensor<8xf32>
  // CHECK: rose.layer_norm %{{.*}}, %{{.*}}, %{{.*}} {epsilon = 2.500000e-01 : f64} : tensor<?x?x8xf32>, tensor<8xf32>, tensor<8xf32> -> tensor<?x?x8xf32>
  %n = rose.layer_norm %x, %g, %b {epsilon = 0.25 : f64} : tensor<?x?x8xf32>, tensor<8xf32>, tensor<8xf32> -> tensor<?x?x8xf32>
  // CHECK: rose.gelu %{{.*}} tanh : tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  %t = rose.gelu %n tanh : tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  // CHECK: rose.relu %{{.*}} : tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  %relu = rose.relu %n : tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  // CHECK: rose.silu %{{.*}} : tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  %silu = rose.silu %n : tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  // CHECK: rose.rms_norm %{{.*}}, %{{.*}} : tensor<?x?x8xf32>, tensor<8xf32> -> tensor<?x?x8xf32>
  %rms = rose.rms_norm %x, %g : tensor<?x?x8xf32>, tensor<8xf32> -> tensor<?x?x8xf32>
  // CHECK: rose.gelu %{{.*}} erf : tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  %e = rose.gelu %n erf : tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  // CHECK: rose.softmax %{{.*}} axis -1 : tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  %s = rose.softmax %e axis -1 : tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  return %t, %e, %s : tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>
}

// CHECK-LABEL: func @attention
func.func @attention(%q: tensor<?x?x8xf32>, %k: tensor<?x?x8xf32>, %v: tensor<?x?x8xf32>) -> (tensor<?x?x8xf32>, tensor<?x?x8xf32>) {
  // CHECK: rose.attention %{{.*}}, %{{.*}}, %{{.*}} heads 2 causal : tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  %o = rose.attention %q, %k, %v heads 2 causal : tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  // CHECK: rose.attention %{{.*}}, %{{.*}}, %{{.*}} heads 4 {scale = 1.250000e-01 : f64} :
  %p = rose.attention %q, %k, %v heads 4 {scale = 0.125 : f64} : tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  // Grouped-query: 4 query heads of dim 2 over 1 kv head.
  %kv = rose.slice %k axis 2 from 0 to 2 : tensor<?x?x8xf32> -> tensor<?x?x2xf32>
  // CHECK: rose.attention %{{.*}}, %{{.*}}, %{{.*}} heads 4 kv_heads 1 causal : tensor<?x?x8xf32>, tensor<?x?x2xf32>, tensor<?x?x2xf32> -> tensor<?x?x8xf32>
  %m = rose.attention %q, %kv, %kv heads 4 kv_heads 1 causal : tensor<?x?x8xf32>, tensor<?x?x2xf32>, tensor<?x?x2xf32> -> tensor<?x?x8xf32>
  %ids = rose.constant dense<0> : tensor<1x1xi64>
  %pos = rose.positions %ids : tensor<1x1xi64> -> tensor<1x1xi64>
  %qs = rose.slice %q axis 0 from 0 to 1 : tensor<?x?x8xf32> -> tensor<1x?x8xf32>
  %q1 = rose.slice %qs axis 1 from 0 to 1 : tensor<1x?x8xf32> -> tensor<1x1x8xf32>
  // CHECK: rose.rotary %{{.*}}, %{{.*}} heads 2 inv_freq [1.000000e+00] interleaved : tensor<1x1x8xf32>, tensor<1x1xi64> -> tensor<1x1x8xf32>
  %r = rose.rotary %q1, %pos heads 2 inv_freq [1.0] interleaved : tensor<1x1x8xf32>, tensor<1x1xi64> -> tensor<1x1x8xf32>
  return %o, %p : tensor<?x?x8xf32>, tensor<?x?x8xf32>
}

// CHECK-LABEL: func @shapes
func.func @shapes(%x: tensor<?x?x24xf32>, %y: tensor<2x3x4xf32>) -> (tensor<?x?x2x12xf32>, tensor<?x2x?x12xf32>, tensor<6x4xf32>, tensor<?x?x24xf32>, tensor<?x?x6xf32>) {
  // CHECK: rose.reshape %{{.*}} [0, 0, 2, 12] : tensor<?x?x24xf32> -> tensor<?x?x2x12xf32>
  %r = rose.reshape %x [0, 0, 2, 12] : tensor<?x?x24xf32> -> tensor<?x?x2x12xf32>
  // CHECK: rose.reshape %{{.*}} [-1, 4] : tensor<2x3x4xf32> -> tensor<6x4xf32>
  %f = rose.reshape %y [-1, 4] : tensor<2x3x4xf32> -> tensor<6x4xf32>
  // CHECK: rose.transpose %{{.*}} [0, 2, 1, 3] : tensor<?x?x2x12xf32> -> tensor<?x2x?x12xf32>
  %t = rose.transpose %r [0, 2, 1, 3] : tensor<?x?x2x12xf32> -> tensor<?x2x?x12xf32>
  // CHECK: rose.split %{{.*}} axis 2 sizes [8, 8, 8] : tensor<?x?x24xf32> -> tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>
  %a:3 = rose.split %x axis 2 sizes [8, 8, 8] : tensor<?x?x24xf32> -> tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>
  // CHECK: rose.concat %{{.*}}, %{{.*}}, %{{.*}} axis -1 : tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32> -> tensor<?x?x24xf32>
  %c = rose.concat %a#2, %a#0, %a#1 axis -1 : tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32> -> tensor<?x?x24xf32>
  // CHECK: rose.slice %{{.*}} axis 2 from 2 to 8 : tensor<?x?x24xf32> -> tensor<?x?x6xf32>
  %s = rose.slice %c axis 2 from 2 to 8 : tensor<?x?x24xf32> -> tensor<?x?x6xf32>
  return %r, %t, %f, %c, %s : tensor<?x?x2x12xf32>, tensor<?x2x?x12xf32>, tensor<6x4xf32>, tensor<?x?x24xf32>, tensor<?x?x6xf32>
}

// CHECK-LABEL: func @collectives
func.func @collectives(%x: tensor<?x?x8xf32>) -> (tensor<?x?x8xf32>, tensor<?x?x32xf32>, tensor<?x?x2xf32>, tensor<?x?x4xf32>) {
  // CHECK: rose.all_reduce %{{.*}} sum over "tp"(4) : tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  %r = rose.all_reduce %x sum over "tp"(4) : tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  // CHECK: rose.all_gather %{{.*}} over "tp"(4) dim 2 : tensor<?x?x8xf32> -> tensor<?x?x32xf32>
  %g = rose.all_gather %r over "tp"(4) dim 2 : tensor<?x?x8xf32> -> tensor<?x?x32xf32>
  // CHECK: rose.reduce_scatter %{{.*}} sum over "tp"(4) dim 2 : tensor<?x?x8xf32> -> tensor<?x?x2xf32>
  %s = rose.reduce_scatter %x sum over "tp"(4) dim 2 : tensor<?x?x8xf32> -> tensor<?x?x2xf32>
  // CHECK: rose.shard_slice %{{.*}} over "tp"(2) dim 2 : tensor<?x?x8xf32> -> tensor<?x?x4xf32>
  %l = rose.shard_slice %x over "tp"(2) dim 2 : tensor<?x?x8xf32> -> tensor<?x?x4xf32>
  return %r, %g, %s, %l : tensor<?x?x8xf32>, tensor<?x?x32xf32>, tensor<?x?x2xf32>, tensor<?x?x4xf32>
}

// CHECK-LABEL: func @all_to_all
func.func @all_to_all(%x: tensor<?x16x8xf32>) -> tensor<?x64x2xf32> {
  // CHECK: rose.all_to_all %{{.*}} over "tp"(4) split 2 concat 1 : tensor<?x16x8xf32> -> tensor<?x64x2xf32>
  %t = rose.all_to_all %x over "tp"(4) split 2 concat 1 : tensor<?x16x8xf32> -> tensor<?x64x2xf32>
  return %t : tensor<?x64x2xf32>
}

// CHECK-LABEL: func @sharding_attr
func.func @sharding_attr(%x: tensor<?x?x8xf32>) -> tensor<?x?x8xf32> {
  // CHECK: rose.param "w" {rose.sharding = #rose.shard<split = 1>} : tensor<8x8xf32>
  %w = rose.param "w" {rose.sharding = #rose.shard<split = 1>} : tensor<8x8xf32>
  // CHECK: {rose.sharding = #rose.shard<partial>}
  %y = rose.matmul %x, %w {rose.sharding = #rose.shard<partial>} : tensor<?x?x8xf32>, tensor<8x8xf32> -> tensor<?x?x8xf32>
  // CHECK: {rose.sharding = [#rose.shard<replicated, axis = "tp2">, #rose.shard<split = 2, groups = 2, axis = "dp">]}
  %a:2 = rose.split %y axis 2 sizes [4, 4] {rose.sharding = [#rose.shard<replicated, axis = "tp2">, #rose.shard<split = 2, groups = 2, axis = "dp">]} : tensor<?x?x8xf32> -> tensor<?x?x4xf32>, tensor<?x?x4xf32>
  return %y : tensor<?x?x8xf32>
}

}
