func.func @f(%q: tensor<1x2x64x32xf32>, %k: tensor<1x2x64x32xf32>,
             %v: tensor<1x2x64x32xf32>) -> tensor<1x2x64x32xf32> {
  %o = flash.attention %q, %k, %v
      : tensor<1x2x64x32xf32>, tensor<1x2x64x32xf32>, tensor<1x2x64x32xf32>
      -> tensor<1x2x64x32xf32>
  return %o : tensor<1x2x64x32xf32>
}
