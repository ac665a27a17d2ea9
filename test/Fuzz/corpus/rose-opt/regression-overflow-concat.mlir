func.func @f(%a: tensor<4611686018427387904xf32>, %b: tensor<4611686018427387904xf32>) {
  %y = rose.concat %a, %b axis 0 : tensor<4611686018427387904xf32>, tensor<4611686018427387904xf32> -> tensor<?xf32>
  return
}
