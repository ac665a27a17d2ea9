func.func @forward(%ids: tensor<?x?xi64>) -> tensor<?x?x549755813888xf32> {
  %wte = rose.param "wte" : tensor<16x4xf32>
  %x = rose.embedding %wte[%ids] : tensor<16x4xf32>, tensor<?x?xi64> -> tensor<?x?x4xf32>
  %w = rose.param "w" : tensor<4x549755813888xf32>
  %y = rose.matmul %x, %w : tensor<?x?x4xf32>, tensor<4x549755813888xf32> -> tensor<?x?x549755813888xf32>
  return %y : tensor<?x?x549755813888xf32>
}
