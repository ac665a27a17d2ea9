func.func @attention_nanogpt(%ids: tensor<?x?xi64>, %q: tensor<?x?x16xf32>, %k: tensor<?x?x16xf32>, %v: tensor<?x?x16xf32>) -> tensor<?x?x16xf32> {
  %q4 = rose.reshape %q [0, 0, 4, 4] : tensor<?x?x16xf32> -> tensor<?x?x4x4xf32>
  %qt = rose.transpose %q4 [0, 2, 1, 3] : tensor<?x?x4x4xf32> -> tensor<?x4x?x4xf32>
  %k4 = rose.reshape %k [0, 0, 4, 4] : tensor<?x?x16xf32> -> tensor<?x?x4x4xf32>
  %kt = rose.transpose %k4 [0, 2, 1, 3] : tensor<?x?x4x4xf32> -> tensor<?x4x?x4xf32>
  %v4 = rose.reshape %v [0, 0, 4, 4] : tensor<?x?x16xf32> -> tensor<?x?x4x4xf32>
  %vt = rose.transpose %v4 [0, 2, 1, 3] : tensor<?x?x4x4xf32> -> tensor<?x4x?x4xf32>
  %ktt = rose.transpose %kt [0, 1, 3, 2] : tensor<?x4x?x4xf32> -> tensor<?x4x4x?xf32>
  %s = rose.matmul %qt, %ktt : tensor<?x4x?x4xf32>, tensor<?x4x4x?xf32> -> tensor<?x4x?x?xf32>
  %quarter = rose.constant dense<0.25> : tensor<f32>
  %sd = rose.mul %s, %quarter : tensor<?x4x?x?xf32>, tensor<f32> -> tensor<?x4x?x?xf32>
  %buf = rose.constant dense<[[[[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]]]]> : tensor<1x1x8x8xf32>
  %pos = rose.iota %ids dim 1 : tensor<?x?xi64> -> tensor<?xi64>
  %rows = rose.gather %buf, %pos axis 2 : tensor<1x1x8x8xf32>, tensor<?xi64> -> tensor<1x1x?x8xf32>
  %sq = rose.gather %rows, %pos axis 3 : tensor<1x1x?x8xf32>, tensor<?xi64> -> tensor<1x1x?x?xf32>
  %zero = rose.constant dense<0.0> : tensor<f32>
  %eq = rose.equal %sq, %zero : tensor<1x1x?x?xf32>, tensor<f32> -> tensor<1x1x?x?xf32>
  %ninf = rose.constant dense<0xFF800000> : tensor<f32>
  %m = rose.where %eq, %ninf, %sd : tensor<1x1x?x?xf32>, tensor<f32>, tensor<?x4x?x?xf32> -> tensor<?x4x?x?xf32>
  %p = rose.softmax %m axis 3 : tensor<?x4x?x?xf32> -> tensor<?x4x?x?xf32>
  %o = rose.matmul %p, %vt : tensor<?x4x?x?xf32>, tensor<?x4x?x4xf32> -> tensor<?x4x?x4xf32>
  %ot = rose.transpose %o [0, 2, 1, 3] : tensor<?x4x?x4xf32> -> tensor<?x?x4x4xf32>
  %y = rose.reshape %ot [0, 0, 16] : tensor<?x?x4x4xf32> -> tensor<?x?x16xf32>
  return %y : tensor<?x?x16xf32>
}
