// Folders: identity data movement and tp=1 collectives disappear.
// RUN: rose-opt %s -canonicalize -split-input-file | FileCheck %s

// CHECK-LABEL: func @tp1_collectives
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x8xf32>)
// CHECK-NOT: rose.
// CHECK: return %[[X]], %[[X]], %[[X]], %[[X]], %[[X]]
func.func @tp1_collectives(%x: tensor<?x?x8xf32>) -> (tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>) {
  %r = rose.all_reduce %x sum over "tp"(1) : tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  %g = rose.all_gather %x over "tp"(1) dim 2 : tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  %s = rose.reduce_scatter %x sum over "tp"(1) dim 2 : tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  %l = rose.shard_slice %x over "tp"(1) dim 2 : tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  %a = rose.all_to_all %x over "tp"(1) split 2 concat 1 : tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  return %r, %g, %s, %l, %a : tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>
}

// -----

// Collectives over more than one rank stay.
// CHECK-LABEL: func @tp2_collectives
// CHECK: rose.all_reduce
// CHECK: rose.all_gather
func.func @tp2_collectives(%x: tensor<?x?x8xf32>) -> (tensor<?x?x8xf32>, tensor<?x?x16xf32>) {
  %r = rose.all_reduce %x sum over "tp"(2) : tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  %g = rose.all_gather %x over "tp"(2) dim 2 : tensor<?x?x8xf32> -> tensor<?x?x16xf32>
  return %r, %g : tensor<?x?x8xf32>, tensor<?x?x16xf32>
}

// -----

// CHECK-LABEL: func @transposes
// CHECK-SAME: (%[[X:.*]]: tensor<2x3x4xf32>)
// CHECK-NEXT: %[[T:.*]] = rose.transpose %[[X]] [1, 0, 2] : tensor<2x3x4xf32> -> tensor<3x2x4xf32>
// CHECK-NEXT: return %[[X]], %[[X]], %[[T]]
func.func @transposes(%x: tensor<2x3x4xf32>) -> (tensor<2x3x4xf32>, tensor<2x3x4xf32>, tensor<3x2x4xf32>) {
  %id = rose.transpose %x [0, 1, 2] : tensor<2x3x4xf32> -> tensor<2x3x4xf32>
  %a = rose.transpose %x [0, 2, 1] : tensor<2x3x4xf32> -> tensor<2x4x3xf32>
  %back = rose.transpose %a [0, 2, 1] : tensor<2x4x3xf32> -> tensor<2x3x4xf32>
  %b = rose.transpose %x [2, 0, 1] : tensor<2x3x4xf32> -> tensor<4x2x3xf32>
  %c = rose.transpose %b [2, 1, 0] : tensor<4x2x3xf32> -> tensor<3x2x4xf32>
  return %id, %back, %c : tensor<2x3x4xf32>, tensor<2x3x4xf32>, tensor<3x2x4xf32>
}

// -----

// CHECK-LABEL: func @reshapes
// CHECK-SAME: (%[[X:.*]]: tensor<2x12xf32>, %[[D:.*]]: tensor<?x24xf32>)
// CHECK-NEXT: %[[R:.*]] = rose.reshape %[[X]] [4, 6] : tensor<2x12xf32> -> tensor<4x6xf32>
// CHECK-NEXT: %[[K:.*]] = rose.reshape %[[D]] [0, 2, 12] : tensor<?x24xf32> -> tensor<?x2x12xf32>
// CHECK-NEXT: %[[B:.*]] = rose.reshape %[[K]] [0, 24] : tensor<?x2x12xf32> -> tensor<?x24xf32>
// CHECK-NEXT: return %[[X]], %[[R]], %[[B]]
func.func @reshapes(%x: tensor<2x12xf32>, %d: tensor<?x24xf32>) -> (tensor<2x12xf32>, tensor<4x6xf32>, tensor<?x24xf32>) {
  %same = rose.reshape %x [2, 12] : tensor<2x12xf32> -> tensor<2x12xf32>
  %a = rose.reshape %x [3, 8] : tensor<2x12xf32> -> tensor<3x8xf32>
  %b = rose.reshape %a [4, 6] : tensor<3x8xf32> -> tensor<4x6xf32>
  // A 0 refers to the intermediate's dims: this chain must stay.
  %k = rose.reshape %d [0, 2, 12] : tensor<?x24xf32> -> tensor<?x2x12xf32>
  %back = rose.reshape %k [0, 24] : tensor<?x2x12xf32> -> tensor<?x24xf32>
  return %same, %b, %back : tensor<2x12xf32>, tensor<4x6xf32>, tensor<?x24xf32>
}

// -----

// CHECK-LABEL: func @split_concat_slice
// CHECK-SAME: (%[[X:.*]]: tensor<2x8xf32>)
// CHECK-NEXT: %[[S:.*]] = rose.slice %[[X]] axis 1 from 0 to 4
// CHECK-NEXT: return %[[X]], %[[X]], %[[X]], %[[S]]
func.func @split_concat_slice(%x: tensor<2x8xf32>) -> (tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x4xf32>) {
  %s = rose.split %x axis 1 sizes [8] : tensor<2x8xf32> -> tensor<2x8xf32>
  %c = rose.concat %x axis 0 : tensor<2x8xf32> -> tensor<2x8xf32>
  %full = rose.slice %x axis 1 from 0 to 8 : tensor<2x8xf32> -> tensor<2x8xf32>
  %part = rose.slice %x axis 1 from 0 to 4 : tensor<2x8xf32> -> tensor<2x4xf32>
  return %s, %c, %full, %part : tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x4xf32>
}


// -----

// CHECK-LABEL: func @fuse_bias
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x8xf32>, %[[W:.*]]: tensor<8x16xf32>, %[[B:.*]]: tensor<16xf32>, %[[R:.*]]: tensor<?x?x16xf32>)
// CHECK-NEXT: %[[Y:.*]] = rose.matmul %[[X]], %[[W]], %[[B]] : tensor<?x?x8xf32>, tensor<8x16xf32>, tensor<16xf32> -> tensor<?x?x16xf32>
// CHECK-NEXT: %[[Z:.*]] = rose.matmul %[[X]], %[[W]], %[[B]] : tensor<?x?x8xf32>, tensor<8x16xf32>, tensor<16xf32> -> tensor<?x?x16xf32>
// A full-shaped addend is a residual, not a bias.
// CHECK-NEXT: %[[M:.*]] = rose.matmul %[[X]], %[[W]] :
// CHECK-NEXT: %[[S:.*]] = rose.add %[[M]], %[[R]]
// CHECK-NEXT: return %[[Y]], %[[Z]], %[[S]]
func.func @fuse_bias(%x: tensor<?x?x8xf32>, %w: tensor<8x16xf32>, %b: tensor<16xf32>, %r: tensor<?x?x16xf32>) -> (tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32>) {
  %m = rose.matmul %x, %w : tensor<?x?x8xf32>, tensor<8x16xf32> -> tensor<?x?x16xf32>
  %y = rose.add %m, %b : tensor<?x?x16xf32>, tensor<16xf32> -> tensor<?x?x16xf32>
  %m2 = rose.matmul %x, %w : tensor<?x?x8xf32>, tensor<8x16xf32> -> tensor<?x?x16xf32>
  %z = rose.add %b, %m2 : tensor<16xf32>, tensor<?x?x16xf32> -> tensor<?x?x16xf32>
  %m3 = rose.matmul %x, %w : tensor<?x?x8xf32>, tensor<8x16xf32> -> tensor<?x?x16xf32>
  %s = rose.add %m3, %r : tensor<?x?x16xf32>, tensor<?x?x16xf32> -> tensor<?x?x16xf32>
  return %y, %z, %s : tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32>
}

// -----

// A product with another user keeps its own add.
// CHECK-LABEL: func @shared_product
// CHECK: %[[M:.*]] = rose.matmul %{{.*}}, %{{.*}} :
// CHECK: rose.add %[[M]]
func.func @shared_product(%x: tensor<4x8xf32>, %w: tensor<8x16xf32>, %b: tensor<16xf32>) -> (tensor<4x16xf32>, tensor<4x16xf32>) {
  %m = rose.matmul %x, %w : tensor<4x8xf32>, tensor<8x16xf32> -> tensor<4x16xf32>
  %y = rose.add %m, %b : tensor<4x16xf32>, tensor<16xf32> -> tensor<4x16xf32>
  return %m, %y : tensor<4x16xf32>, tensor<4x16xf32>
}
