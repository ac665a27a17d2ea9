func.func @gelu_hf(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %half = rose.constant dense<0.5> : tensor<f32>
  %three = rose.constant dense<3.0> : tensor<f32>
  %k = rose.constant dense<0.044715> : tensor<f32>
  %c = rose.constant dense<0.797884583> : tensor<f32>
  %one = rose.constant dense<1.0> : tensor<f32>
  %h = rose.mul %x, %half : tensor<?x8xf32>, tensor<f32> -> tensor<?x8xf32>
  %p = rose.pow %x, %three : tensor<?x8xf32>, tensor<f32> -> tensor<?x8xf32>
  %kp = rose.mul %p, %k : tensor<?x8xf32>, tensor<f32> -> tensor<?x8xf32>
  %in = rose.add %x, %kp : tensor<?x8xf32>, tensor<?x8xf32> -> tensor<?x8xf32>
  %s = rose.mul %in, %c : tensor<?x8xf32>, tensor<f32> -> tensor<?x8xf32>
  %t = rose.tanh %s : tensor<?x8xf32> -> tensor<?x8xf32>
  %o = rose.add %t, %one : tensor<?x8xf32>, tensor<f32> -> tensor<?x8xf32>
  %y = rose.mul %h, %o : tensor<?x8xf32>, tensor<?x8xf32> -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}
