// rose ops are Pure: equal params and equal computations CSE.
// RUN: rose-opt %s -cse | FileCheck %s

// CHECK-LABEL: func @cse_params
// CHECK-COUNT-1: rose.param "w"
// CHECK-NOT: rose.param
func.func @cse_params() -> (tensor<4xf32>, tensor<4xf32>) {
  %a = rose.param "w" : tensor<4xf32>
  %b = rose.param "w" : tensor<4xf32>
  return %a, %b : tensor<4xf32>, tensor<4xf32>
}

// CHECK-LABEL: func @cse_compute
// CHECK-COUNT-1: rose.gelu
// CHECK-NOT: rose.gelu
func.func @cse_compute(%x: tensor<?x8xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>) {
  %a = rose.gelu %x tanh : tensor<?x8xf32> -> tensor<?x8xf32>
  %b = rose.gelu %x tanh : tensor<?x8xf32> -> tensor<?x8xf32>
  return %a, %b : tensor<?x8xf32>, tensor<?x8xf32>
}
