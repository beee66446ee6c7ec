// Only the gradient of an attention: its backward kernels.
func.func @grad(%q: tensor<1x2x64x32xf16>, %lse: tensor<1x2x64xf32>)
    -> tensor<1x2x64x32xf16> {
  %dq, %dk, %dv = flash.attention_grad %q, %q, %q, %q, %q, %lse
      {mask_kind = #flash.mask<causal_bottom_right>}
      : tensor<1x2x64x32xf16>, tensor<1x2x64x32xf16>, tensor<1x2x64x32xf16>,
        tensor<1x2x64x32xf16>, tensor<1x2x64x32xf16>, tensor<1x2x64xf32>
      -> tensor<1x2x64x32xf16>, tensor<1x2x64x32xf16>, tensor<1x2x64x32xf16>
  return %dq : tensor<1x2x64x32xf16>
}
