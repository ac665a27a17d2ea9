// A program past the runtime's bounds (here a param of 2^41 elements; the
// validator rose-compile runs on what it wrote bounds every size so the
// runtime's arithmetic stays exact): a one-line error, exit 1, no program.
// RUN: rm -f %t.rose
// RUN: %exit1 rose-compile %s --weights %t.safetensors -o %t.rose 2>&1 | FileCheck %s
// RUN: test ! -e %t.rose
// CHECK: rose-compile: error: {{.*}}rose-compile-overflow.mlir:0: rose-compile: lowered program: param 'w' has a bad shape

func.func @forward(%ids: tensor<?x?xi64>) -> tensor<?x?x549755813888xf32> {
  %wte = rose.param "wte" : tensor<16x4xf32>
  %x = rose.embedding %wte[%ids] : tensor<16x4xf32>, tensor<?x?xi64> -> tensor<?x?x4xf32>
  %w = rose.param "w" : tensor<4x549755813888xf32>
  %y = rose.matmul %x, %w : tensor<?x?x4xf32>, tensor<4x549755813888xf32> -> tensor<?x?x549755813888xf32>
  return %y : tensor<?x?x549755813888xf32>
}
