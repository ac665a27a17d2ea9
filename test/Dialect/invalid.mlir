// Every rose verifier message, one case each.
// RUN: rose-opt %s -split-input-file -verify-diagnostics

// expected-error@+1 {{expected 'replicated', 'split' or 'partial', got 'tiled'}}
func.func private @f() attributes {s = #rose.shard<tiled>}

// -----

// expected-error@+1 {{split dim must be >= 0, got -1}}
func.func private @f() attributes {s = #rose.shard<split = -1>}

// -----

// expected-error@+1 {{sharding axis name must not be empty}}
func.func private @f() attributes {s = #rose.shard<replicated, axis = "">}

// -----

func.func @f() {
  // expected-error@+1 {{unknown rose attribute 'rose.layout'}}
  %w = rose.param "w" {rose.layout = 1} : tensor<8xf32>
  return
}

// -----

func.func @f(%x: tensor<4x8xf32>) {
  // expected-error@+1 {{'rose.sharding' has 1 entries but the op has 2 results}}
  %a:2 = rose.split %x axis 1 sizes [4, 4] {rose.sharding = [#rose.shard<replicated>]} : tensor<4x8xf32> -> tensor<4x4xf32>, tensor<4x4xf32>
  return
}

// -----

func.func @f() {
  // expected-error@+1 {{'rose.sharding' entry for result #0 must be a #rose.shard, got 1 : i64}}
  %w = rose.param "w" {rose.sharding = 1} : tensor<8xf32>
  return
}

// -----

func.func @f() {
  // expected-error@+1 {{'rose.sharding' splits result #0, which is not a ranked tensor}}
  %c = arith.constant {rose.sharding = #rose.shard<split = 0>} 1 : i32
  return
}

// -----

func.func @f() {
  // expected-error@+1 {{'rose.sharding' splits dim 1 but result #0 has rank 1}}
  %w = rose.param "w" {rose.sharding = #rose.shard<split = 1>} : tensor<8xf32>
  return
}

// -----

func.func @f(%x: tensor<4x8xf32>) {
  // expected-error@+1 {{'rose.sharding' on an op with 2 results must be an array with one #rose.shard per result}}
  %a:2 = rose.split %x axis 1 sizes [4, 4] {rose.sharding = #rose.shard<replicated>} : tensor<4x8xf32> -> tensor<4x4xf32>, tensor<4x4xf32>
  return
}

// -----

func.func @f() {
  // expected-error@+1 {{param name must not be empty}}
  %w = rose.param "" : tensor<8xf32>
  return
}

// -----

func.func @f() {
  // expected-error@+1 {{param 'w' must have a static shape, got 'tensor<?x8xf32>'}}
  %w = rose.param "w" : tensor<?x8xf32>
  return
}

// -----

func.func @f(%t: tensor<4x8x2xf32>, %i: tensor<3xi64>) {
  // expected-error@+1 {{table must be rank 2 [vocab, dim], got rank 3}}
  %x = rose.embedding %t[%i] : tensor<4x8x2xf32>, tensor<3xi64> -> tensor<3x2xf32>
  return
}

// -----

func.func @f(%t: tensor<4x8xf32>, %i: tensor<3xi64>) {
  // expected-error@+1 {{vocab_shards must be >= 1, got 0}}
  %x = rose.embedding %t[%i] {vocab_shards = 0} : tensor<4x8xf32>, tensor<3xi64> -> tensor<3x8xf32>
  return
}

// -----

func.func @f(%t: tensor<4x8xf32>, %i: tensor<3xf32>) {
  // expected-error@+1 {{operand #1 must be ranked tensor of 32-bit signless integer or 64-bit signless integer values}}
  %x = rose.embedding %t[%i] : tensor<4x8xf32>, tensor<3xf32> -> tensor<3x8xf32>
  return
}

// -----

func.func @f(%a: tensor<8xf32>, %b: tensor<8x4xf32>) {
  // expected-error@+1 {{lhs must have rank >= 2, got rank 1}}
  %y = rose.matmul %a, %b : tensor<8xf32>, tensor<8x4xf32> -> tensor<4xf32>
  return
}

// -----

func.func @f(%a: tensor<2x8xf32>, %b: tensor<8xf32>) {
  // expected-error@+1 {{rhs must have rank >= 2, got rank 1}}
  %y = rose.matmul %a, %b : tensor<2x8xf32>, tensor<8xf32> -> tensor<2xf32>
  return
}

// -----

func.func @f(%a: tensor<2x8xf32>, %b: tensor<8x4xf16>) {
  // expected-error@+1 {{lhs element type 'f32' differs from rhs element type 'f16'}}
  %y = rose.matmul %a, %b : tensor<2x8xf32>, tensor<8x4xf16> -> tensor<2x4xf32>
  return
}

// -----

func.func @f(%a: tensor<?x?x64xf32>, %b: tensor<32x16xf32>) {
  // expected-error@+1 {{contracting dims differ: lhs has 64, rhs has 32}}
  %y = rose.matmul %a, %b : tensor<?x?x64xf32>, tensor<32x16xf32> -> tensor<?x?x16xf32>
  return
}

// -----

func.func @f(%a: tensor<?x64xf32>, %b: tensor<16x32xf32>) {
  // expected-error@+1 {{contracting dims differ: lhs has 64, rhs has 32 (rhs is transposed)}}
  %y = rose.matmul %a, %b {transpose_rhs} : tensor<?x64xf32>, tensor<16x32xf32> -> tensor<?x16xf32>
  return
}

// -----

func.func @f(%a: tensor<3x2x8xf32>, %b: tensor<4x8x4xf32>) {
  // expected-error@+1 {{batch dims: lhs and rhs shapes [3] and [4] do not broadcast}}
  %y = rose.matmul %a, %b : tensor<3x2x8xf32>, tensor<4x8x4xf32> -> tensor<3x2x4xf32>
  return
}

// -----

func.func @f(%a: tensor<2x8xf32>, %b: tensor<8x4xf32>, %c: tensor<1x4xf32>) {
  // expected-error@+1 {{bias must be 1-D, got rank 2}}
  %y = rose.matmul %a, %b, %c : tensor<2x8xf32>, tensor<8x4xf32>, tensor<1x4xf32> -> tensor<2x4xf32>
  return
}

// -----

func.func @f(%a: tensor<2x8xf32>, %b: tensor<8x4xf32>, %c: tensor<5xf32>) {
  // expected-error@+1 {{bias has 5 elements, expected N = 4}}
  %y = rose.matmul %a, %b, %c : tensor<2x8xf32>, tensor<8x4xf32>, tensor<5xf32> -> tensor<2x4xf32>
  return
}

// -----

func.func @f(%a: tensor<2x8xf32>, %b: tensor<8x4xf32>, %c: tensor<4xbf16>) {
  // expected-error@+1 {{bias element type 'bf16' differs from lhs element type 'f32'}}
  %y = rose.matmul %a, %b, %c : tensor<2x8xf32>, tensor<8x4xf32>, tensor<4xbf16> -> tensor<2x4xf32>
  return
}

// -----

func.func @f(%a: tensor<2x8xf32>, %b: tensor<8x4xf32>) {
  // expected-error@+1 {{result #0 type 'tensor<2x5xf32>' does not match the inferred type 'tensor<2x4xf32>'}}
  %y = rose.matmul %a, %b : tensor<2x8xf32>, tensor<8x4xf32> -> tensor<2x5xf32>
  return
}

// -----

func.func @f(%a: tensor<2x8xf32>, %b: tensor<8xf16>) {
  // expected-error@+1 {{lhs element type 'f32' differs from rhs element type 'f16'}}
  %y = rose.add %a, %b : tensor<2x8xf32>, tensor<8xf16> -> tensor<2x8xf32>
  return
}

// -----

func.func @f(%a: tensor<?x3x8xf32>, %b: tensor<4x8xf32>) {
  // expected-error@+1 {{operand shapes [?, 3, 8] and [4, 8] do not broadcast}}
  %y = rose.mul %a, %b : tensor<?x3x8xf32>, tensor<4x8xf32> -> tensor<?x3x8xf32>
  return
}

// -----

func.func @f(%x: tensor<f32>, %g: tensor<8xf32>) {
  // expected-error@+1 {{input must have rank >= 1}}
  %y = rose.layer_norm %x, %g, %g : tensor<f32>, tensor<8xf32>, tensor<8xf32> -> tensor<f32>
  return
}

// -----

func.func @f(%x: tensor<?x8xf32>, %g: tensor<1x8xf32>, %b: tensor<8xf32>) {
  // expected-error@+1 {{scale must be 1-D, got rank 2}}
  %y = rose.layer_norm %x, %g, %b : tensor<?x8xf32>, tensor<1x8xf32>, tensor<8xf32> -> tensor<?x8xf32>
  return
}

// -----

func.func @f(%x: tensor<?x8xf32>, %g: tensor<8xf32>, %b: tensor<6xf32>) {
  // expected-error@+1 {{bias has 6 elements, expected 8 (the last dim of input)}}
  %y = rose.layer_norm %x, %g, %b : tensor<?x8xf32>, tensor<8xf32>, tensor<6xf32> -> tensor<?x8xf32>
  return
}

// -----

func.func @f(%x: tensor<?x8xf32>, %g: tensor<8xf16>) {
  // expected-error@+1 {{scale element type 'f16' differs from input element type 'f32'}}
  %y = rose.layer_norm %x, %g, %g : tensor<?x8xf32>, tensor<8xf16>, tensor<8xf16> -> tensor<?x8xf32>
  return
}

// -----

func.func @f(%x: tensor<?x8xf32>, %g: tensor<8xf32>) {
  // expected-error@+1 {{epsilon must be positive, got 0}}
  %y = rose.layer_norm %x, %g, %g {epsilon = 0.0 : f64} : tensor<?x8xf32>, tensor<8xf32>, tensor<8xf32> -> tensor<?x8xf32>
  return
}

// -----

func.func @f(%x: tensor<?x8xf32>) {
  // expected-error@+1 {{axis 2 is out of range for rank 2}}
  %y = rose.softmax %x axis 2 : tensor<?x8xf32> -> tensor<?x8xf32>
  return
}

// -----

func.func @f(%x: tensor<?x8xf32>) {
  // expected-error@+1 {{query must be rank 3 [batch, seq, heads * head_dim], got rank 2}}
  %y = rose.attention %x, %x, %x heads 2 : tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32> -> tensor<?x8xf32>
  return
}

// -----

func.func @f(%q: tensor<?x?x8xf32>, %k: tensor<?x?x16xf32>) {
  // expected-error@+1 {{key type 'tensor<?x?x16xf32>' does not fit query type 'tensor<?x?x8xf32>' with 2 kv heads: expected 'tensor<?x?x8xf32>'}}
  %y = rose.attention %q, %k, %q heads 2 : tensor<?x?x8xf32>, tensor<?x?x16xf32>, tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  return
}

// -----

func.func @f(%q: tensor<?x?x8xf32>) {
  // expected-error@+1 {{num_heads must be positive, got 0}}
  %y = rose.attention %q, %q, %q heads 0 : tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  return
}

// -----

func.func @f(%q: tensor<?x?x64xf32>) {
  // expected-error@+1 {{num_heads = 5 does not divide the hidden size 64}}
  %y = rose.attention %q, %q, %q heads 5 causal : tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32> -> tensor<?x?x64xf32>
  return
}

// -----

func.func @f(%q: tensor<?x?x64xf32>) {
  // expected-error@+1 {{scale must be positive, got -1}}
  %y = rose.attention %q, %q, %q heads 4 {scale = -1.0 : f64} : tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32> -> tensor<?x?x64xf32>
  return
}

// -----

func.func @f(%x: tensor<?x8xf32>) {
  // expected-error@+1 {{shape entry -2 at index 1 is invalid (use -1 to infer a dim, 0 to copy one)}}
  %y = rose.reshape %x [0, -2] : tensor<?x8xf32> -> tensor<?x8xf32>
  return
}

// -----

func.func @f(%x: tensor<2x8xf32>) {
  // expected-error@+1 {{shape has more than one -1 (at indices 0 and 1)}}
  %y = rose.reshape %x [-1, -1] : tensor<2x8xf32> -> tensor<2x8xf32>
  return
}

// -----

func.func @f(%x: tensor<16xf32>) {
  // expected-error@+1 {{shape entry 0 at index 1 copies a dim the rank-1 input lacks}}
  %y = rose.reshape %x [16, 0] : tensor<16xf32> -> tensor<16x1xf32>
  return
}

// -----

func.func @f(%x: tensor<2x12xf32>) {
  // expected-error@+1 {{cannot infer the -1 dim: 24 elements are not divisible by 5}}
  %y = rose.reshape %x [-1, 5] : tensor<2x12xf32> -> tensor<5x5xf32>
  return
}

// -----

func.func @f(%x: tensor<?x24xf32>) {
  // expected-error@+1 {{reshape from [?, 24] to [?, 5, 5] changes the element count from 24 to 25}}
  %y = rose.reshape %x [0, 5, 5] : tensor<?x24xf32> -> tensor<?x5x5xf32>
  return
}

// -----

func.func @f(%x: tensor<2x3x4xf32>) {
  // expected-error@+1 {{permutation [0, 0, 1] is not a permutation of 0..2}}
  %y = rose.transpose %x [0, 0, 1] : tensor<2x3x4xf32> -> tensor<2x2x3xf32>
  return
}

// -----

func.func @f(%x: tensor<2x8xf32>) {
  // expected-error@+1 {{axis -3 is out of range for rank 2}}
  %a:2 = rose.split %x axis -3 sizes [4, 4] : tensor<2x8xf32> -> tensor<2x4xf32>, tensor<2x4xf32>
  return
}

// -----

func.func @f(%x: tensor<2x8xf32>) {
  // expected-error@+1 {{split size 0 at index 1 must be positive}}
  %a:2 = rose.split %x axis 1 sizes [8, 0] : tensor<2x8xf32> -> tensor<2x8xf32>, tensor<2x0xf32>
  return
}

// -----

func.func @f(%x: tensor<2x8xf32>) {
  // expected-error@+1 {{sizes must not be empty}}
  "rose.split"(%x) {axis = 1 : i64, sizes = array<i64>} : (tensor<2x8xf32>) -> ()
  return
}

// -----

func.func @f(%x: tensor<2x12xf32>) {
  // expected-error@+1 {{split sizes sum to 10 but axis 1 has size 12}}
  %a:2 = rose.split %x axis 1 sizes [5, 5] : tensor<2x12xf32> -> tensor<2x5xf32>, tensor<2x5xf32>
  return
}

// -----

func.func @f() {
  // expected-error@+1 {{needs at least one input}}
  %y = "rose.concat"() {axis = 0 : i64} : () -> tensor<2xf32>
  return
}

// -----

func.func @f(%a: tensor<2x8xf32>, %b: tensor<8xf32>) {
  // expected-error@+1 {{input 1 has rank 1, expected 2}}
  %y = rose.concat %a, %b axis 0 : tensor<2x8xf32>, tensor<8xf32> -> tensor<3x8xf32>
  return
}

// -----

func.func @f(%a: tensor<2x8xf32>, %b: tensor<2x8xbf16>) {
  // expected-error@+1 {{input 1 element type 'bf16' differs from input 0 element type 'f32'}}
  %y = rose.concat %a, %b axis 0 : tensor<2x8xf32>, tensor<2x8xbf16> -> tensor<4x8xf32>
  return
}

// -----

func.func @f(%a: tensor<2x8xf32>, %b: tensor<2x4xf32>) {
  // expected-error@+1 {{input 1 has size 4 in dim 1, expected 8}}
  %y = rose.concat %a, %b axis 0 : tensor<2x8xf32>, tensor<2x4xf32> -> tensor<4x8xf32>
  return
}

// -----

func.func @f(%x: tensor<2x8xf32>) {
  // expected-error@+1 {{slice [4, 4) must satisfy 0 <= start < end}}
  %y = rose.slice %x axis 1 from 4 to 4 : tensor<2x8xf32> -> tensor<2x0xf32>
  return
}

// -----

func.func @f(%x: tensor<2x8xf32>) {
  // expected-error@+1 {{slice end 9 exceeds size 8 of axis 1}}
  %y = rose.slice %x axis -1 from 1 to 9 : tensor<2x8xf32> -> tensor<2x8xf32>
  return
}

// -----

func.func @f(%x: tensor<2x8xf32>) {
  // expected-error@+1 {{axis name must not be empty}}
  %y = rose.all_reduce %x sum over ""(2) : tensor<2x8xf32> -> tensor<2x8xf32>
  return
}

// -----

func.func @f(%x: tensor<2x8xf32>) {
  // expected-error@+1 {{group_size must be >= 1, got 0}}
  %y = rose.all_gather %x over "tp"(0) dim 1 : tensor<2x8xf32> -> tensor<2x8xf32>
  return
}

// -----

func.func @f(%x: tensor<2x8xf32>) {
  // expected-error@+1 {{group_size must be >= 1, got -2}}
  %y = rose.all_reduce %x sum over "tp"(-2) : tensor<2x8xf32> -> tensor<2x8xf32>
  return
}

// -----

func.func @f(%x: tensor<2x8xf32>) {
  // expected-error@+1 {{dim 2 is out of range for rank 2}}
  %y = rose.shard_slice %x over "tp"(2) dim 2 : tensor<2x8xf32> -> tensor<2x4xf32>
  return
}

// -----

func.func @f(%x: tensor<2x8xf32>) {
  // expected-error@+1 {{split and concat dims must differ, both are 1}}
  %y = rose.all_to_all %x over "tp"(2) split 1 concat 1 : tensor<2x8xf32> -> tensor<2x8xf32>
  return
}

// -----

func.func @f(%x: tensor<2x6xf32>) {
  // expected-error@+1 {{dim 1 of size 6 is not divisible by group_size 4}}
  %y = rose.all_to_all %x over "tp"(4) split 1 concat 0 : tensor<2x6xf32> -> tensor<8x1xf32>
  return
}

// -----

func.func @f(%x: tensor<2x8xf32>) {
  // expected-error@+1 {{dim 3 is out of range for rank 2}}
  %y = rose.all_to_all %x over "tp"(2) split 1 concat 3 : tensor<2x8xf32> -> tensor<2x4xf32>
  return
}

// -----

func.func @f(%x: tensor<?x?x30xf32>) {
  // expected-error@+1 {{dim 2 of size 30 is not divisible by group_size 4}}
  %y = rose.reduce_scatter %x sum over "tp"(4) dim 2 : tensor<?x?x30xf32> -> tensor<?x?x7xf32>
  return
}

// -----

func.func @f(%x: tensor<2x8xf32>) {
  // expected-error@+1 {{has 1 results but 2 split sizes}}
  %a = "rose.split"(%x) {axis = 1 : i64, sizes = array<i64: 4, 4>} : (tensor<2x8xf32>) -> tensor<2x4xf32>
  return
}

// -----

func.func @f(%x: tensor<2x8xf32>) {
  // expected-error@+1 {{result #1 type 'tensor<2x3xf32>' does not match the inferred type 'tensor<2x4xf32>'}}
  %a:2 = rose.split %x axis 1 sizes [4, 4] : tensor<2x8xf32> -> tensor<2x4xf32>, tensor<2x3xf32>
  return
}

// -----

func.func @f(%x: tensor<i64>) {
  // expected-error@+1 {{input must have rank >= 1}}
  %p = rose.positions %x : tensor<i64> -> tensor<i64>
  return
}

// -----

func.func @f(%x: tensor<?x?xi64>) {
  // expected-error@+1 {{offset must be >= 0, got -1}}
  %p = rose.positions %x {offset = -1} : tensor<?x?xi64> -> tensor<?x?xi64>
  return
}

// -----

func.func @f() attributes {rose.weights = "w.safetensors"} {
  // expected-error@-1 {{'rose.weights' belongs on a module}}
  return
}

// -----

// expected-error@+1 {{'rose.weights' must be a string path}}
module attributes {rose.weights = 3} {}

// -----

// expected-error@+1 {{'rose.gpt_config' must be a dictionary}}
module attributes {rose.gpt_config = "gpt2"} {}

// -----

// expected-error@+1 {{'rose.tp' must be a positive integer}}
module attributes {rose.tp = 0} {}

// -----

func.func @f() {
  // expected-error@+1 {{slice dim must be >= 0, got -1}}
  %w = rose.param "w" slice <dim = -1, parts = 2, groups = 1, full = [8, 8]> : tensor<8x4xf32>
  return
}

// -----

func.func @f() {
  // expected-error@+1 {{slice parts and groups must be >= 1, got parts = 0, groups = 1}}
  %w = rose.param "w" slice <dim = 1, parts = 0, groups = 1, full = [8, 8]> : tensor<8x4xf32>
  return
}

// -----

func.func @f() {
  // expected-error@+1 {{slice: dim 1 of size 12 is not divisible into 3 groups of 3 parts}}
  %w = rose.param "w" slice <dim = 1, parts = 3, groups = 3, full = [8, 12]> : tensor<8x4xf32>
  return
}

// -----

func.func @f() {
  // expected-error@+1 {{param 'w' has rank 2 but its slice's full shape [8] has rank 1}}
  %w = rose.param "w" slice <dim = 0, parts = 2, groups = 1, full = [8]> : tensor<8x4xf32>
  return
}

// -----

func.func @f() {
  // expected-error@+1 {{slice dim 2 is out of range for rank 2}}
  %w = rose.param "w" slice <dim = 2, parts = 2, groups = 1, full = [8, 8]> : tensor<8x4xf32>
  return
}

// -----

func.func @f() {
  // expected-error@+1 {{param 'w' has size 4 in dim 1, but slicing [8, 12] gives 6}}
  %w = rose.param "w" slice <dim = 1, parts = 2, groups = 3, full = [8, 12]> : tensor<8x4xf32>
  return
}

// -----

func.func @f() {
  // A contiguous split pads: 10 rows over 4 parts are 3 per rank.
  // expected-error@+1 {{param 'w' has size 2 in dim 0, but slicing [10, 8] gives 3}}
  %w = rose.param "w" slice <dim = 0, parts = 4, groups = 1, full = [10, 8]> : tensor<2x8xf32>
  return
}

// -----

// expected-error@+1 {{'rose.mesh' op axis 'tp' appears twice}}
rose.mesh @mesh(tp = 2, tp = 4)

// -----

// expected-error@+1 {{'rose.mesh' op axis 'dp' has size 0; sizes must be >= 1}}
rose.mesh @mesh(dp = 0, tp = 4)

// -----

// expected-error@+1 {{'rose.mesh' op needs at least one axis}}
"rose.mesh"() {sym_name = "mesh", axes = [], sizes = array<i64>} : () -> ()

// -----

// expected-error@+1 {{'rose.mesh' op 2 axes but 1 sizes}}
"rose.mesh"() {sym_name = "mesh", axes = ["dp", "tp"], sizes = array<i64: 2>} : () -> ()

// -----

// expected-error@+1 {{expected 'axis' or 'groups', got 'parts'}}
func.func private @f() attributes {s = #rose.shard<split = 1, parts = 2>}

// -----

// expected-error@+1 {{groups = 3: only a split takes groups, and at least 1}}
func.func private @f() attributes {s = #rose.shard<partial, groups = 3>}

// -----

func.func @f() {
  // expected-error@+1 {{'rose.mesh' op expects parent op 'builtin.module'}}
  rose.mesh @mesh(tp = 2)
  return
}

// -----

func.func @f(%x: tensor<2x3x8xf32>, %w: tensor<6xf32>) {
  // expected-error@+1 {{'rose.rms_norm' op scale has 6 elements, expected 8 (the last dim of input)}}
  %y = rose.rms_norm %x, %w : tensor<2x3x8xf32>, tensor<6xf32> -> tensor<2x3x8xf32>
  return
}

// -----

func.func @f(%q: tensor<2x3x8xf32>, %k: tensor<2x3x4xf32>) {
  // expected-error@+1 {{'rose.attention' op kv_heads = 3 must be positive and divide num_heads = 4}}
  %y = rose.attention %q, %k, %k heads 4 kv_heads 3 causal : tensor<2x3x8xf32>, tensor<2x3x4xf32>, tensor<2x3x4xf32> -> tensor<2x3x8xf32>
  return
}

// -----

func.func @f(%q: tensor<2x3x8xf32>, %k: tensor<2x3x8xf32>) {
  // expected-error@+1 {{'rose.attention' op key type 'tensor<2x3x8xf32>' does not fit query type 'tensor<2x3x8xf32>' with 2 kv heads: expected 'tensor<2x3x4xf32>'}}
  %y = rose.attention %q, %k, %k heads 4 kv_heads 2 causal : tensor<2x3x8xf32>, tensor<2x3x8xf32>, tensor<2x3x8xf32> -> tensor<2x3x8xf32>
  return
}

// -----

func.func @f(%x: tensor<2x3x8xf32>, %p: tensor<2x3xi64>) {
  // expected-error@+1 {{'rose.rotary' op inv_freq has 3 frequencies: rotating 6 dims exceeds the head dim 4}}
  %y = rose.rotary %x, %p heads 2 inv_freq [1.0, 0.5, 0.25] : tensor<2x3x8xf32>, tensor<2x3xi64> -> tensor<2x3x8xf32>
  return
}

// -----

func.func @f(%x: tensor<2x3x8xf32>, %p: tensor<2x4xi64>) {
  // expected-error@+1 {{'rose.rotary' op positions 'tensor<2x4xi64>' must be [batch, seq] of input 'tensor<2x3x8xf32>'}}
  %y = rose.rotary %x, %p heads 2 inv_freq [1.0] : tensor<2x3x8xf32>, tensor<2x4xi64> -> tensor<2x3x8xf32>
  return
}

// -----

func.func @where_no_broadcast(%c: tensor<2x3xf32>, %a: tensor<2x3xf32>, %b: tensor<4xf32>) -> tensor<2x3xf32> {
  // expected-error@+1 {{lhs and rhs shapes [2, 3] and [4] do not broadcast}}
  %0 = rose.where %c, %a, %b : tensor<2x3xf32>, tensor<2x3xf32>, tensor<4xf32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @where_condition(%c: tensor<5xf32>, %a: tensor<2x3xf32>, %b: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error@+1 {{condition and value shapes [5] and [2, 3] do not broadcast}}
  %0 = rose.where %c, %a, %b : tensor<5xf32>, tensor<2x3xf32>, tensor<2x3xf32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @reduce_axis(%x: tensor<2x3xf32>) -> tensor<2x1xf32> {
  // expected-error@+1 {{axis 2 is out of range for rank 2}}
  %0 = rose.reduce sum %x axis 2 : tensor<2x3xf32> -> tensor<2x1xf32>
  return %0 : tensor<2x1xf32>
}

// -----

func.func @reduce_keeps_dim(%x: tensor<2x3xf32>) -> tensor<2xf32> {
  // expected-error@+1 {{result #0 type 'tensor<2xf32>' does not match the inferred type 'tensor<2x1xf32>'}}
  %0 = rose.reduce mean %x axis 1 : tensor<2x3xf32> -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @pow_types(%x: tensor<2x3xf32>, %e: tensor<f16>) -> tensor<2x3xf32> {
  // expected-error@+1 {{lhs element type 'f32' differs from rhs element type 'f16'}}
  %0 = rose.pow %x, %e : tensor<2x3xf32>, tensor<f16> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @iota_dim(%ids: tensor<?x?xi64>) -> tensor<?xi64> {
  // expected-error@+1 {{dim 2 is out of range for rank 2}}
  %0 = rose.iota %ids dim 2 : tensor<?x?xi64> -> tensor<?xi64>
  return %0 : tensor<?xi64>
}

// -----

func.func @param_repeat(%x: tensor<4x8xf32>) -> tensor<8x8xf32> {
  // expected-error@+1 {{param 'w': repeat must be [dim, blocks, times] with blocks x times dividing that dim, on a param not yet sliced}}
  %w = rose.param "w" repeat [1, 3, 2] : tensor<8x8xf32>
  return %w : tensor<8x8xf32>
}

// -----

func.func @slice_replicas() -> tensor<8x4xf32> {
  // expected-error@+1 {{slice replicas must be >= 1 (and groups 1 when above 1), got replicas = 2, groups = 2}}
  %w = rose.param "w" slice <dim = 1, parts = 2, groups = 2, full = [8, 8], replicas = 2> : tensor<8x4xf32>
  return %w : tensor<8x4xf32>
}

// -----

func.func @attention_window(%q: tensor<?x?x16xf32>) -> tensor<?x?x16xf32> {
  // expected-error@+1 {{a sliding window must be positive and causal, got window 0}}
  %0 = rose.attention %q, %q, %q heads 2 causal window 0 : tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32> -> tensor<?x?x16xf32>
  return %0 : tensor<?x?x16xf32>
}

// -----

func.func @cast_shape(%pos: tensor<?x4xi64>) -> tensor<?x5xf32> {
  // expected-error@+1 {{result #0 type 'tensor<?x5xf32>' does not match the inferred type 'tensor<?x4xf32>'}}
  %0 = rose.cast %pos : tensor<?x4xi64> -> tensor<?x5xf32>
  return %0 : tensor<?x5xf32>
}

// -----

func.func @cast_float(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error@+1 {{operand #0 must be ranked tensor of 64-bit signless integer values, but got 'tensor<4xf32>'}}
  %0 = rose.cast %x : tensor<4xf32> -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @fill_dims(%ids: tensor<?x?xi64>) -> tensor<?x?xf32> {
  // expected-error@+1 {{dims entry 3 is out of range for the ref's rank 2 (a negative entry -n is a static size n)}}
  %0 = rose.fill %ids dims [1, 3] value 1.0 : tensor<?x?xi64> -> tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}

// -----

func.func @fill_static(%ids: tensor<?x?xi64>) -> tensor<2x?xf32> {
  // expected-error@+1 {{result #0 type 'tensor<2x?xf32>' does not match the inferred type 'tensor<1x?xf32>'}}
  %0 = rose.fill %ids dims [-1, 1] value 1.0 : tensor<?x?xi64> -> tensor<2x?xf32>
  return %0 : tensor<2x?xf32>
}

// -----

func.func @trilu_rank(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error@+1 {{input must have rank >= 2, got rank 1}}
  %0 = rose.trilu %x k 0 : tensor<4xf32> -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @gather_shape(%x: tensor<4x8xf32>, %i: tensor<3xi64>) -> tensor<4x8xf32> {
  // expected-error@+1 {{result #0 type 'tensor<4x8xf32>' does not match the inferred type 'tensor<4x3xf32>'}}
  %0 = rose.gather %x, %i axis 1 : tensor<4x8xf32>, tensor<3xi64> -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}
