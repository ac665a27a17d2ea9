func.func @f() {
  %w = rose.param "w" slice <dim = 0, parts = 4611686018427387904, groups = 4, full = [8]> : tensor<1xf32>
  return
}
