// The memory claim of the IO-aware form: after tiling, no value of size
// Lq x Lk (here 96 x 80) exists in the forward or the backward, only
// 16 x 16 tiles and per-row vectors.
// RUN: flash-opt %s --flash-tile-attention="tile-q=16 tile-kv=16" | FileCheck %s
// RUN: flash-opt %s --flash-decompose-attention | FileCheck %s --check-prefix=NAIVE

// CHECK-NOT: flash.attention
// CHECK-NOT: 96x80
// CHECK-NOT: 80x96
// CHECK: tensor<16x16xf32>
// CHECK-NOT: 96x80
// CHECK-NOT: 80x96
// CHECK-NOT: flash.attention

// The decomposition, by contrast, materializes the scores.
// NAIVE: tensor<1x2x1x96x80xf32>

func.func @forward(%q: tensor<1x2x96x32xf16>, %k: tensor<1x2x80x32xf16>,
                   %v: tensor<1x2x80x32xf16>)
    -> (tensor<1x2x96x32xf16>, tensor<1x2x96xf32>) {
  %o, %lse = flash.attention %q, %k, %v {mask_kind = #flash.mask<causal_bottom_right>}
      : tensor<1x2x96x32xf16>, tensor<1x2x80x32xf16>, tensor<1x2x80x32xf16>
      -> tensor<1x2x96x32xf16>, tensor<1x2x96xf32>
  return %o, %lse : tensor<1x2x96x32xf16>, tensor<1x2x96xf32>
}

func.func @backward(%q: tensor<1x2x96x32xf16>, %k: tensor<1x2x80x32xf16>,
                    %v: tensor<1x2x80x32xf16>, %o: tensor<1x2x96x32xf16>,
                    %do: tensor<1x2x96x32xf16>, %lse: tensor<1x2x96xf32>)
    -> (tensor<1x2x96x32xf16>, tensor<1x2x80x32xf16>, tensor<1x2x80x32xf16>) {
  %dq, %dk, %dv = flash.attention_grad %q, %k, %v, %o, %do, %lse
      : tensor<1x2x96x32xf16>, tensor<1x2x80x32xf16>, tensor<1x2x80x32xf16>,
        tensor<1x2x96x32xf16>, tensor<1x2x96x32xf16>, tensor<1x2x96xf32>
      -> tensor<1x2x96x32xf16>, tensor<1x2x80x32xf16>, tensor<1x2x80x32xf16>
  return %dq, %dk, %dv : tensor<1x2x96x32xf16>, tensor<1x2x80x32xf16>, tensor<1x2x80x32xf16>
}
