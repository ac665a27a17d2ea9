// RUN: rose-opt %s --rose-collective-simplify -split-input-file | FileCheck %s
// RUN: rose-opt %s --rose-collective-simplify -split-input-file -o /dev/null 2>&1 | FileCheck %s --check-prefix=REMARK

// CHECK-LABEL: func @gather_then_slice
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x16xf32>)
// CHECK-NEXT: return %[[X]]
// REMARK: remark: rose-collective-simplify: elided all_gather + shard_slice on dim 2 (the rank keeps its chunk)
func.func @gather_then_slice(%x: tensor<?x?x16xf32>) -> tensor<?x?x16xf32> {
  %g = rose.all_gather %x over "tp"(4) dim 2 : tensor<?x?x16xf32> -> tensor<?x?x64xf32>
  %s = rose.shard_slice %g over "tp"(4) dim 2 : tensor<?x?x64xf32> -> tensor<?x?x16xf32>
  return %s : tensor<?x?x16xf32>
}

// -----

// CHECK-LABEL: func @slice_then_gather
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x64xf32>)
// CHECK-NEXT: return %[[X]]
// REMARK: remark: rose-collective-simplify: elided shard_slice + all_gather on dim 2 (the value was replicated)
func.func @slice_then_gather(%x: tensor<?x?x64xf32>) -> tensor<?x?x64xf32> {
  %s = rose.shard_slice %x over "tp"(4) dim 2 : tensor<?x?x64xf32> -> tensor<?x?x16xf32>
  %g = rose.all_gather %s over "tp"(4) dim 2 : tensor<?x?x16xf32> -> tensor<?x?x64xf32>
  return %g : tensor<?x?x64xf32>
}

// -----

// CHECK-LABEL: func @reduce_then_slice
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x64xf32>)
// CHECK-NEXT: %[[R:.*]] = rose.reduce_scatter %[[X]] sum over "tp"(2) dim 1 : tensor<?x?x64xf32> -> tensor<?x?x64xf32>
// CHECK-NEXT: return %[[R]]
// REMARK: remark: rose-collective-simplify: all_reduce + shard_slice on dim 1 became reduce_scatter
func.func @reduce_then_slice(%x: tensor<?x?x64xf32>) -> tensor<?x?x64xf32> {
  %r = rose.all_reduce %x sum over "tp"(2) : tensor<?x?x64xf32> -> tensor<?x?x64xf32>
  %s = rose.shard_slice %r over "tp"(2) dim 1 : tensor<?x?x64xf32> -> tensor<?x?x64xf32>
  return %s : tensor<?x?x64xf32>
}

// -----

// Different dims or groups are not redundant.
// CHECK-LABEL: func @mismatch
// CHECK: rose.all_gather
// CHECK: rose.shard_slice
// CHECK: rose.all_gather
// CHECK: rose.shard_slice
func.func @mismatch(%x: tensor<4x16xf32>) -> (tensor<1x64xf32>, tensor<16x4xf32>) {
  %g = rose.all_gather %x over "tp"(4) dim 1 : tensor<4x16xf32> -> tensor<4x64xf32>
  %s = rose.shard_slice %g over "tp"(4) dim 0 : tensor<4x64xf32> -> tensor<1x64xf32>
  %g2 = rose.all_gather %x over "tp"(4) dim 0 : tensor<4x16xf32> -> tensor<16x16xf32>
  %s2 = rose.shard_slice %g2 over "tp"(4) dim 1 : tensor<16x16xf32> -> tensor<16x4xf32>
  return %s, %s2 : tensor<1x64xf32>, tensor<16x4xf32>
}

// -----

// CHECK-LABEL: func @one_rank
// CHECK-SAME: (%[[X:.*]]: tensor<4x16xf32>)
// CHECK-NEXT: return %[[X]], %[[X]]
// REMARK: remark: rose-collective-simplify: elided all_reduce over one rank
// REMARK: remark: rose-collective-simplify: elided all_gather over one rank
func.func @one_rank(%x: tensor<4x16xf32>) -> (tensor<4x16xf32>, tensor<4x16xf32>) {
  %r = rose.all_reduce %x sum over "tp"(1) : tensor<4x16xf32> -> tensor<4x16xf32>
  %g = rose.all_gather %x over "tp"(1) dim 0 : tensor<4x16xf32> -> tensor<4x16xf32>
  return %r, %g : tensor<4x16xf32>, tensor<4x16xf32>
}

// -----

// Duplicated collectives merge (CSE in the pipeline; collectives are pure in SPMD IR).
// RUN: rose-opt %s --rose-collective-simplify -cse -split-input-file | FileCheck %s --check-prefix=DUP
// DUP-LABEL: func @duplicates
// DUP-COUNT-1: rose.all_reduce
// DUP-NOT: rose.all_reduce
func.func @duplicates(%x: tensor<4x16xf32>) -> (tensor<4x16xf32>, tensor<4x16xf32>) {
  %a = rose.all_reduce %x sum over "tp"(2) : tensor<4x16xf32> -> tensor<4x16xf32>
  %b = rose.all_reduce %x sum over "tp"(2) : tensor<4x16xf32> -> tensor<4x16xf32>
  return %a, %b : tensor<4x16xf32>, tensor<4x16xf32>
}
