// Propagation: annotations and priorities, and the origins
// --rose-shard-explain prints (errors: rose-shard-propagate-invalid.mlir).
// RUN: rose-opt %s -split-input-file --rose-shard-propagate | FileCheck %s
// RUN: rose-opt %s -split-input-file --rose-shard-propagate --rose-shard-explain -o /dev/null 2>&1 | FileCheck %s --check-prefix=EXPLAIN

// A user annotation (priority 0 by default) beats a plan's (priority 1): the
// gelu runs replicated although its input is split.
// CHECK-LABEL: func.func @user_beats_plan
// CHECK: rose.matmul {{.*}}rose.sharding = #rose.shard<split = 1>
// CHECK: rose.gelu {{.*}}rose.sharding = #rose.shard<replicated>
// EXPLAIN: remark: rose-shard-explain: 'w' split on dim 1 over tp because of 'w' (plan: colwise)
module {
rose.mesh @mesh(tp = 2)
func.func @user_beats_plan(%x: tensor<4x8xf32>) -> tensor<4x6xf32> {
  %w = rose.param "w" : tensor<8x6xf32>
  %y = rose.matmul %x, %w {rose.sharding = #rose.shard<split = 1>, rose.sharding_priority = 1, rose.sharding_origin = "'w' (plan: colwise)"} : tensor<4x8xf32>, tensor<8x6xf32> -> tensor<4x6xf32>
  %g = rose.gelu %y tanh {rose.sharding = #rose.shard<replicated>} : tensor<4x6xf32> -> tensor<4x6xf32>
  return %g : tensor<4x6xf32>
}
}

// -----

// A weaker annotation (priority 3) loses to the layout its operand has at
// priority 0: the gelu keeps the split, and says where it came from.
// CHECK-LABEL: func.func @operand_beats_weak_annotation
// CHECK: rose.gelu {{.*}}rose.sharding = #rose.shard<split = 1>
// EXPLAIN: remark: rose-shard-explain: 'gelu' split on dim 1 over tp because of annotation on 'w'
module {
rose.mesh @mesh(tp = 2)
func.func @operand_beats_weak_annotation(%x: tensor<4x8xf32>) -> tensor<4x6xf32> {
  %w = rose.param "w" : tensor<8x6xf32>
  %y = rose.matmul %x, %w {rose.sharding = #rose.shard<split = 1>} : tensor<4x8xf32>, tensor<8x6xf32> -> tensor<4x6xf32>
  %g = rose.gelu %y tanh {rose.sharding = #rose.shard<replicated>, rose.sharding_priority = 3} : tensor<4x6xf32> -> tensor<4x6xf32>
  return %g : tensor<4x6xf32>
}
}

// -----

// Two operands split on different dims: the first operand wins at equal
// priority; the other is re-laid out by partition.
// CHECK-LABEL: func.func @operands_disagree
// CHECK: rose.add {{.*}}rose.sharding = #rose.shard<split = 0>
module {
rose.mesh @mesh(tp = 2)
func.func @operands_disagree(%a: tensor<4x6xf32>, %b: tensor<4x6xf32>) -> tensor<4x6xf32> {
  %x = rose.relu %a {rose.sharding = #rose.shard<split = 0>} : tensor<4x6xf32> -> tensor<4x6xf32>
  %y = rose.relu %b {rose.sharding = #rose.shard<split = 1>} : tensor<4x6xf32> -> tensor<4x6xf32>
  %s = rose.add %x, %y : tensor<4x6xf32>, tensor<4x6xf32> -> tensor<4x6xf32>
  return %s : tensor<4x6xf32>
}
}
