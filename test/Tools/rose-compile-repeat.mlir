// A param repeated per kv head (what TP sharding writes for grouped-query
// attention over more ranks than kv heads) compiled where it cannot be
// split into its blocks: a one-line error naming the param, exit 1, no
// program.
// RUN: rm -f %t.rose
// RUN: %exit1 rose-compile %s --weights %t.safetensors --tp 1 -o %t.rose 2>&1 | FileCheck %s
// RUN: test ! -e %t.rose
// CHECK: rose-compile: error: {{.*}}rose-compile-repeat.mlir:14: 'rose.matmul' op rose-shard-partition: param 'wk' repeats 2 blocks 2 times in dim 1; it must be split in that dim into 4 parts over tp

func.func @forward(%ids: tensor<?x?xi64>) -> tensor<?x?x8xf32> {
  %e = rose.param "emb" : tensor<10x8xf32>
  %x = rose.embedding %e[%ids] : tensor<10x8xf32>, tensor<?x?xi64> -> tensor<?x?x8xf32>
  %w = rose.param "wk" repeat [1, 2, 2] : tensor<8x8xf32>
  %y = rose.matmul %x, %w : tensor<?x?x8xf32>, tensor<8x8xf32> -> tensor<?x?x8xf32>
  return %y : tensor<?x?x8xf32>
}
