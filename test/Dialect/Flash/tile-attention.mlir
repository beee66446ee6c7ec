// The structure of the tiled online-softmax form.
// RUN: flash-opt %s -split-input-file --flash-tile-attention="tile-q=16 tile-kv=16" --canonicalize --cse | FileCheck %s

// Causal: the key loop ends at the band's last tile, and only tiles the
// diagonal crosses apply the element mask. Exponentials are base 2.
// CHECK-LABEL: func.func @causal
// CHECK:         scf.for {{.*}} -> (tensor<1x1x64x16xf32>)
// CHECK:           %[[LAST:.*]] = arith.floordivsi
// CHECK:           scf.for {{.*}} to %{{.*}} step {{.*}} -> (tensor<16xf32>, tensor<16xf32>, tensor<16x16xf32>)
// CHECK:             %[[FULL:.*]] = arith.cmpi sle
// CHECK:             scf.if %[[FULL]]
// CHECK-NOT:           arith.cmpi
// CHECK:               math.exp2
// CHECK:             } else {
// CHECK:               arith.cmpi sle
// CHECK:               math.exp2
// CHECK:           tensor.insert_slice {{.*}} [1, 1, 16, 16]
// CHECK-NOT:     math.exp {{.*}} : f32
func.func @causal(%q: tensor<1x1x64x16xf32>, %k: tensor<1x1x64x16xf32>,
                  %v: tensor<1x1x64x16xf32>) -> tensor<1x1x64x16xf32> {
  %o = flash.attention %q, %k, %v {mask_kind = #flash.mask<causal>}
      : tensor<1x1x64x16xf32>, tensor<1x1x64x16xf32>, tensor<1x1x64x16xf32>
      -> tensor<1x1x64x16xf32>
  return %o : tensor<1x1x64x16xf32>
}

// -----

// Tails: lengths that are not multiples of the tiles give zero-padded tiles
// whose padding columns are hidden (the `cmpi slt` against the tile's size).
// CHECK-LABEL: func.func @tails
// CHECK:         arith.minsi
// CHECK:         tensor.pad
// CHECK:         arith.cmpi slt
// CHECK:         arith.select
func.func @tails(%q: tensor<1x1x17x16xf32>, %k: tensor<1x1x40x16xf32>,
                 %v: tensor<1x1x40x16xf32>) -> tensor<1x1x17x16xf32> {
  %o = flash.attention %q, %k, %v
      : tensor<1x1x17x16xf32>, tensor<1x1x40x16xf32>, tensor<1x1x40x16xf32>
      -> tensor<1x1x17x16xf32>
  return %o : tensor<1x1x17x16xf32>
}

// -----

// Block-sparse: the key loop walks the CSR row of the query tile, skipping
// out-of-range indices; the block sizes come from the layout, not the pass.
// CHECK-LABEL: func.func @sparse
// CHECK:         scf.for %[[QT:.*]] = %{{.*}} to %c2
// CHECK:           %[[CNT:.*]] = tensor.extract %{{.*}}[%c0, %c0, %[[QT]]] : tensor<1x1x2xi32>
// CHECK:           %[[N:.*]] = arith.index_cast %[[CNT]]
// CHECK:           %[[BOUND:.*]] = arith.minsi %[[N]]
// CHECK:           scf.for %[[I:.*]] = %c0 to %[[BOUND]]
// CHECK:             tensor.extract %{{.*}}[%c0, %c0, %[[QT]], %[[I]]] : tensor<1x1x2x4xi32>
// CHECK:             scf.if
// CHECK:               tensor.extract_slice {{.*}} [1, 1, 8, 16]
func.func @sparse(%q: tensor<1x1x64x16xf32>, %k: tensor<1x1x32x16xf32>,
                  %v: tensor<1x1x32x16xf32>, %n: tensor<1x1x2xi32>,
                  %i: tensor<1x1x2x4xi32>) -> tensor<1x1x64x16xf32> {
  %o = flash.attention %q, %k, %v block_sparse(%n, %i : tensor<1x1x2xi32>, tensor<1x1x2x4xi32>)
      {block_sizes = array<i64: 32, 8>}
      : tensor<1x1x64x16xf32>, tensor<1x1x32x16xf32>, tensor<1x1x32x16xf32>
      -> tensor<1x1x64x16xf32>
  return %o : tensor<1x1x64x16xf32>
}

// -----

// Backward: key tiles outermost; P = exp(s - lse) recomputed per query tile;
// dead tiles skipped; dQ accumulated in f32 and cast once.
// CHECK-LABEL: func.func @grad
// CHECK:         scf.for {{.*}} -> (tensor<1x2x32x16xf32>, tensor<1x1x32x16xf16>, tensor<1x1x32x16xf16>)
// CHECK:           scf.for {{.*}} -> (tensor<1x2x32x16xf32>, tensor<16x16xf32>, tensor<16x16xf32>)
// CHECK:             scf.if
// CHECK:               math.exp
// CHECK:         arith.truncf {{.*}} : f32 to f16
func.func @grad(%q: tensor<1x2x32x16xf16>, %k: tensor<1x1x32x16xf16>,
                %v: tensor<1x1x32x16xf16>, %o: tensor<1x2x32x16xf16>,
                %do: tensor<1x2x32x16xf16>, %lse: tensor<1x2x32xf32>)
    -> (tensor<1x2x32x16xf16>, tensor<1x1x32x16xf16>, tensor<1x1x32x16xf16>) {
  %dq, %dk, %dv = flash.attention_grad %q, %k, %v, %o, %do, %lse {mask_kind = #flash.mask<causal>}
      : tensor<1x2x32x16xf16>, tensor<1x1x32x16xf16>, tensor<1x1x32x16xf16>,
        tensor<1x2x32x16xf16>, tensor<1x2x32x16xf16>, tensor<1x2x32xf32>
      -> tensor<1x2x32x16xf16>, tensor<1x1x32x16xf16>, tensor<1x1x32x16xf16>
  return %dq, %dk, %dv : tensor<1x2x32x16xf16>, tensor<1x1x32x16xf16>, tensor<1x1x32x16xf16>
}

// -----

// head_dim 0 (with an explicit scale): query and key tiles have no elements
// and every score is 0; the output and the log-sum-exp are still computed,
// and the gradients of the 0-wide operands store nothing.
// CHECK-LABEL: func.func @zero_head_dim
// CHECK-NOT:     flash.attention
// CHECK:         math.log2
// CHECK:         return
func.func @zero_head_dim(%q: tensor<1x1x32x0xf32>, %k: tensor<1x1x32x0xf32>,
                         %v: tensor<1x1x32x16xf32>)
    -> (tensor<1x1x32x16xf32>, tensor<1x1x32xf32>) {
  %o, %l = flash.attention %q, %k, %v {scale = 0.5 : f32}
      : tensor<1x1x32x0xf32>, tensor<1x1x32x0xf32>, tensor<1x1x32x16xf32>
      -> tensor<1x1x32x16xf32>, tensor<1x1x32xf32>
  return %o, %l : tensor<1x1x32x16xf32>, tensor<1x1x32xf32>
}

// -----

// CHECK-LABEL: func.func @zero_head_dim_grad
// CHECK-NOT:     flash.attention_grad
// CHECK:         return
func.func @zero_head_dim_grad(%q: tensor<1x1x32x0xf32>, %k: tensor<1x1x32x0xf32>,
                              %v: tensor<1x1x32x16xf32>, %o: tensor<1x1x32x16xf32>,
                              %do: tensor<1x1x32x16xf32>, %lse: tensor<1x1x32xf32>)
    -> (tensor<1x1x32x0xf32>, tensor<1x1x32x0xf32>, tensor<1x1x32x16xf32>) {
  %dq, %dk, %dv = flash.attention_grad %q, %k, %v, %o, %do, %lse {scale = 0.5 : f32}
      : tensor<1x1x32x0xf32>, tensor<1x1x32x0xf32>, tensor<1x1x32x16xf32>,
        tensor<1x1x32x16xf32>, tensor<1x1x32x16xf32>, tensor<1x1x32xf32>
      -> tensor<1x1x32x0xf32>, tensor<1x1x32x0xf32>, tensor<1x1x32x16xf32>
  return %dq, %dk, %dv : tensor<1x1x32x0xf32>, tensor<1x1x32x0xf32>, tensor<1x1x32x16xf32>
}
