// A causal grouped-query attention layer, forward and backward, as the flash
// dialect spells it: 8 query heads share 2 key/value heads, f16 operands,
// head_dim 64 (scale 1/8 by default). Run
//   flash-opt --flash-decompose-attention examples/attention.mlir
// to see it rewritten into linalg/tensor/arith/math, or the other commands
// of README.md's "Using flash-opt". (scripts/setup.sh compiles
// examples/naive_attention.mlir, not this file.)

func.func @forward(%q: tensor<2x8x128x64xf16>, %k: tensor<2x2x128x64xf16>,
                   %v: tensor<2x2x128x64xf16>)
    -> (tensor<2x8x128x64xf16>, tensor<2x8x128xf32>) {
  %o, %lse = flash.attention %q, %k, %v {mask_kind = #flash.mask<causal>}
      : tensor<2x8x128x64xf16>, tensor<2x2x128x64xf16>, tensor<2x2x128x64xf16>
      -> tensor<2x8x128x64xf16>, tensor<2x8x128xf32>
  return %o, %lse : tensor<2x8x128x64xf16>, tensor<2x8x128xf32>
}

func.func @backward(%q: tensor<2x8x128x64xf16>, %k: tensor<2x2x128x64xf16>,
                    %v: tensor<2x2x128x64xf16>, %o: tensor<2x8x128x64xf16>,
                    %do: tensor<2x8x128x64xf16>, %lse: tensor<2x8x128xf32>)
    -> (tensor<2x8x128x64xf16>, tensor<2x2x128x64xf16>,
        tensor<2x2x128x64xf16>) {
  %dq, %dk, %dv = flash.attention_grad %q, %k, %v, %o, %do, %lse
      {mask_kind = #flash.mask<causal>}
      : tensor<2x8x128x64xf16>, tensor<2x2x128x64xf16>, tensor<2x2x128x64xf16>,
        tensor<2x8x128x64xf16>, tensor<2x8x128x64xf16>, tensor<2x8x128xf32>
      -> tensor<2x8x128x64xf16>, tensor<2x2x128x64xf16>, tensor<2x2x128x64xf16>
  return %dq, %dk, %dv
      : tensor<2x8x128x64xf16>, tensor<2x2x128x64xf16>, tensor<2x2x128x64xf16>
}
