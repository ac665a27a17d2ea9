func.func @f(%x: tensor<4611686018427387904xf32>) {
  %y = rose.all_gather %x over "tp"(4) dim 0 : tensor<4611686018427387904xf32> -> tensor<?xf32>
  return
}
