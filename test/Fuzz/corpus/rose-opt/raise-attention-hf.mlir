func.func @attention_hf(%ids: tensor<?x?xi64>, %q: tensor<?x?x16xf32>, %k: tensor<?x?x16xf32>, %v: tensor<?x?x16xf32>) -> tensor<?x?x16xf32> {
  %q4 = rose.reshape %q [0, 0, 4, 4] : tensor<?x?x16xf32> -> tensor<?x?x4x4xf32>
  %qt = rose.transpose %q4 [0, 2, 1, 3] : tensor<?x?x4x4xf32> -> tensor<?x4x?x4xf32>
  %k4 = rose.reshape %k [0, 0, 4, 4] : tensor<?x?x16xf32> -> tensor<?x?x4x4xf32>
  %kt = rose.transpose %k4 [0, 2, 3, 1] : tensor<?x?x4x4xf32> -> tensor<?x4x4x?xf32>
  %v4 = rose.reshape %v [0, 0, 4, 4] : tensor<?x?x16xf32> -> tensor<?x?x4x4xf32>
  %vt = rose.transpose %v4 [0, 2, 1, 3] : tensor<?x?x4x4xf32> -> tensor<?x4x?x4xf32>
  %s = rose.matmul %qt, %kt : tensor<?x4x?x4xf32>, tensor<?x4x4x?xf32> -> tensor<?x4x?x?xf32>
  %hd = rose.constant dense<16.0> : tensor<f32>
  %half = rose.constant dense<0.5> : tensor<f32>
  %root = rose.pow %hd, %half : tensor<f32>, tensor<f32> -> tensor<f32>
  %sd = rose.div %s, %root : tensor<?x4x?x?xf32>, tensor<f32> -> tensor<?x4x?x?xf32>
  %buf = rose.constant dense<[[[[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]]]]> : tensor<1x1x8x8xf32>
  %pos = rose.iota %ids dim 1 : tensor<?x?xi64> -> tensor<?xi64>
  %rows = rose.gather %buf, %pos axis 2 : tensor<1x1x8x8xf32>, tensor<?xi64> -> tensor<1x1x?x8xf32>
  %sq = rose.gather %rows, %pos axis 3 : tensor<1x1x?x8xf32>, tensor<?xi64> -> tensor<1x1x?x?xf32>
  %min = rose.constant dense<-3.40282347E+38> : tensor<f32>
  %m = rose.where %sq, %sd, %min : tensor<1x1x?x?xf32>, tensor<?x4x?x?xf32>, tensor<f32> -> tensor<?x4x?x?xf32>
  %p = rose.softmax %m axis 3 : tensor<?x4x?x?xf32> -> tensor<?x4x?x?xf32>
  %o = rose.matmul %p, %vt : tensor<?x4x?x?xf32>, tensor<?x4x?x4xf32> -> tensor<?x4x?x4xf32>
  %ot = rose.transpose %o [0, 2, 1, 3] : tensor<?x4x?x4xf32> -> tensor<?x?x4x4xf32>
  %y = rose.reshape %ot [0, 0, 16] : tensor<?x?x4x4xf32> -> tensor<?x?x16xf32>
  return %y : tensor<?x?x16xf32>
}
