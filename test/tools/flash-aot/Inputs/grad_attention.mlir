// A training step's attention: the forward, its gradient, and two gradients
// that the backward kernels do not cover (head dim 192, an element mask).
func.func @step(%q: tensor<2x4x256x128xbf16>, %k: tensor<2x4x256x128xbf16>,
                %v: tensor<2x4x256x128xbf16>, %do: tensor<2x4x256x128xbf16>,
                %w: tensor<1x1x16x192xbf16>, %wl: tensor<1x1x16xf32>,
                %m: tensor<1x1x256x256xi1>)
    -> (tensor<2x4x256x128xbf16>, tensor<2x4x256x128xbf16>,
        tensor<1x1x16x192xbf16>, tensor<2x4x256x128xbf16>) {
  %o, %lse = flash.attention %q, %k, %v
      : tensor<2x4x256x128xbf16>, tensor<2x4x256x128xbf16>,
        tensor<2x4x256x128xbf16>
      -> tensor<2x4x256x128xbf16>, tensor<2x4x256xf32>
  %dq, %dk, %dv = flash.attention_grad %q, %k, %v, %o, %do, %lse
      : tensor<2x4x256x128xbf16>, tensor<2x4x256x128xbf16>,
        tensor<2x4x256x128xbf16>, tensor<2x4x256x128xbf16>,
        tensor<2x4x256x128xbf16>, tensor<2x4x256xf32>
      -> tensor<2x4x256x128xbf16>, tensor<2x4x256x128xbf16>,
         tensor<2x4x256x128xbf16>
  %wq, %wk, %wv = flash.attention_grad %w, %w, %w, %w, %w, %wl
      : tensor<1x1x16x192xbf16>, tensor<1x1x16x192xbf16>,
        tensor<1x1x16x192xbf16>, tensor<1x1x16x192xbf16>,
        tensor<1x1x16x192xbf16>, tensor<1x1x16xf32>
      -> tensor<1x1x16x192xbf16>, tensor<1x1x16x192xbf16>,
         tensor<1x1x16x192xbf16>
  %mq, %mk, %mv = flash.attention_grad %q, %k, %v, %o, %do, %lse
      mask(%m : tensor<1x1x256x256xi1>)
      : tensor<2x4x256x128xbf16>, tensor<2x4x256x128xbf16>,
        tensor<2x4x256x128xbf16>, tensor<2x4x256x128xbf16>,
        tensor<2x4x256x128xbf16>, tensor<2x4x256xf32>
      -> tensor<2x4x256x128xbf16>, tensor<2x4x256x128xbf16>,
         tensor<2x4x256x128xbf16>
  return %dq, %dk, %wq, %mq
      : tensor<2x4x256x128xbf16>, tensor<2x4x256x128xbf16>,
        tensor<1x1x16x192xbf16>, tensor<2x4x256x128xbf16>
}
