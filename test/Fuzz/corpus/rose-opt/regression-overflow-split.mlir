func.func @f(%x: tensor<2x?xf32>) {
  %a:2 = rose.split %x axis 1 sizes [9223372036854775807, 1] : tensor<2x?xf32> -> tensor<2x9223372036854775807xf32>, tensor<2x1xf32>
  return
}
