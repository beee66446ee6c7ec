func.func @sparse(%q: tensor<1x4x512x64xbf16>, %k: tensor<1x4x512x64xbf16>,
                  %v: tensor<1x4x512x64xbf16>, %n: tensor<1x1x4xi32>,
                  %i: tensor<1x1x4x4xi32>) -> tensor<1x4x512x64xbf16> {
  %o = flash.attention %q, %k, %v
      block_sparse(%n, %i : tensor<1x1x4xi32>, tensor<1x1x4x4xi32>)
      {mask_kind = #flash.mask<causal>, block_sizes = array<i64: 128, 128>}
      : tensor<1x4x512x64xbf16>, tensor<1x4x512x64xbf16>, tensor<1x4x512x64xbf16>
      -> tensor<1x4x512x64xbf16>
  return %o : tensor<1x4x512x64xbf16>
}
