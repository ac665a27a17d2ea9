// Shape arithmetic on huge static dims is checked: a one-line error naming
// the op and the numbers, never signed-overflow UB or a wrapped shape.
// RUN: rose-opt %s -split-input-file -verify-diagnostics

func.func @f(%x: tensor<4611686018427387904x4xf32>) {
  // expected-error@+1 {{reshape from [4611686018427387904, 4] to [-1]: element count overflows}}
  %y = rose.reshape %x [-1] : tensor<4611686018427387904x4xf32> -> tensor<?xf32>
  return
}

// -----

func.func @f(%x: tensor<2x?xf32>) {
  // expected-error@+1 {{split sizes overflow at index 1}}
  %a:2 = rose.split %x axis 1 sizes [9223372036854775807, 1] : tensor<2x?xf32> -> tensor<2x9223372036854775807xf32>, tensor<2x1xf32>
  return
}

// -----

func.func @f(%a: tensor<4611686018427387904xf32>, %b: tensor<4611686018427387904xf32>) {
  // expected-error@+1 {{concatenated size along dim 0 overflows at input 1}}
  %y = rose.concat %a, %b axis 0 : tensor<4611686018427387904xf32>, tensor<4611686018427387904xf32> -> tensor<?xf32>
  return
}

// -----

func.func @f(%x: tensor<4611686018427387904xf32>) {
  // expected-error@+1 {{gathered size of dim 0 overflows}}
  %y = rose.all_gather %x over "tp"(4) dim 0 : tensor<4611686018427387904xf32> -> tensor<?xf32>
  return
}

// -----

func.func @f() {
  // expected-error@+1 {{slice: parts = 4611686018427387904 times groups = 4 overflows}}
  %w = rose.param "w" slice <dim = 0, parts = 4611686018427387904, groups = 4, full = [8]> : tensor<1xf32>
  return
}
