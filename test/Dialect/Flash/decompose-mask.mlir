// RUN: flash-opt %s -split-input-file --flash-decompose-attention | FileCheck %s

// Element masks and the softcap in the score generic of flash.attention.

// An additive f16 mask with one batch: its head axis splits like the query's
// ([B, Hkv, G, Lq, Lk]) and its batch axis broadcasts (indexed by 0).
// CHECK-DAG: #[[ID5:map[0-9]*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3, d4)>
// CHECK-DAG: #[[MASK:map[0-9]*]] = affine_map<(d0, d1, d2, d3, d4) -> (0, d1, d2, d3, d4)>
// CHECK-LABEL: func.func @additive(
// CHECK-SAME:      %[[M:[^:]+]]: tensor<1x4x8x8xf16>)
// CHECK-DAG:     %[[SCALE:.+]] = arith.constant 2.500000e-01 : f32
// CHECK:         %[[DOTS:.+]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction"]
// CHECK:         %[[M5:.+]] = tensor.expand_shape %[[M]] {{\[\[}}0], [1, 2], [3], [4]] output_shape [1, 2, 2, 8, 8] : tensor<1x4x8x8xf16> into tensor<1x2x2x8x8xf16>
// CHECK:         linalg.generic {indexing_maps = [#[[ID5]], #[[MASK]], #[[ID5]]], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]} ins(%[[DOTS]], %[[M5]] : tensor<2x2x2x8x8xf32>, tensor<1x2x2x8x8xf16>)
// CHECK-NEXT:    ^bb0(%[[DOT:.+]]: f32, %[[BIAS:.+]]: f16, %{{.+}}: f32):
// CHECK:           %[[S:.+]] = arith.mulf %[[DOT]], %[[SCALE]] : f32
// CHECK:           %[[BIAS32:.+]] = arith.extf %[[BIAS]] : f16 to f32
// CHECK:           %[[R:.+]] = arith.addf %[[S]], %[[BIAS32]] : f32
// CHECK-NEXT:      linalg.yield %[[R]] : f32
func.func @additive(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>,
                    %v: tensor<2x2x8x16xf32>, %m: tensor<1x4x8x8xf16>)
    -> tensor<2x4x8x16xf32> {
  %o = flash.attention %q, %k, %v mask(%m : tensor<1x4x8x8xf16>)
      : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32>
      -> tensor<2x4x8x16xf32>
  return %o : tensor<2x4x8x16xf32>
}

// -----

// A boolean key-padding mask [B, 1, 1, Lk]: one head broadcasts over hk and g
// alike; true keeps the score, false gives -inf. With a causal mask too, both
// must hold.
// CHECK-DAG: #[[PAD:map[0-9]*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, 0, 0, d4)>
// CHECK-LABEL: func.func @boolean_and_causal(
// CHECK-SAME:      %[[M:[^:]+]]: tensor<2x1x1x8xi1>)
// CHECK-DAG:     %[[NEG_INF:.+]] = arith.constant 0xFF800000 : f32
// CHECK-NOT:     tensor.expand_shape %[[M]]
// CHECK:         linalg.generic {indexing_maps = [#{{.+}}, #[[PAD]], #{{.+}}], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]} ins(%{{.+}}, %[[M]] : tensor<2x2x2x8x8xf32>, tensor<2x1x1x8xi1>)
// CHECK-NEXT:    ^bb0(%{{.+}}: f32, %[[KEEP:.+]]: i1, %{{.+}}: f32):
// CHECK-DAG:       %[[I:.+]] = linalg.index 3 : index
// CHECK-DAG:       %[[J:.+]] = linalg.index 4 : index
// CHECK-DAG:       %[[S:.+]] = arith.mulf
// CHECK:           %[[CAUSAL:.+]] = arith.cmpi sle, %[[J]], %[[I]] : index
// CHECK:           %[[VISIBLE:.+]] = arith.andi %[[KEEP]], %[[CAUSAL]] : i1
// CHECK:           %[[R:.+]] = arith.select %[[VISIBLE]], %[[S]], %[[NEG_INF]] : f32
// CHECK-NEXT:      linalg.yield %[[R]] : f32
func.func @boolean_and_causal(%q: tensor<2x4x8x16xf32>,
                              %k: tensor<2x2x8x16xf32>,
                              %v: tensor<2x2x8x16xf32>,
                              %m: tensor<2x1x1x8xi1>) -> tensor<2x4x8x16xf32> {
  %o = flash.attention %q, %k, %v mask(%m : tensor<2x1x1x8xi1>)
      {mask_kind = #flash.mask<causal>}
      : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32>
      -> tensor<2x4x8x16xf32>
  return %o : tensor<2x4x8x16xf32>
}

// -----

// The softcap, cap · tanh(s / cap), comes before the additive mask.
// CHECK-LABEL: func.func @softcap_then_mask(
// CHECK:         linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]}
// CHECK-NEXT:    ^bb0(%{{.+}}: f32, %[[BIAS:.+]]: bf16, %{{.+}}: f32):
// CHECK:           %[[T:.+]] = math.tanh
// CHECK:           %[[CAPPED:.+]] = arith.mulf %[[T]], %{{.+}} : f32
// CHECK:           %[[BIAS32:.+]] = arith.extf %[[BIAS]] : bf16 to f32
// CHECK:           %[[R:.+]] = arith.addf %[[CAPPED]], %[[BIAS32]] : f32
// CHECK-NEXT:      linalg.yield %[[R]] : f32
func.func @softcap_then_mask(%q: tensor<1x2x8x16xbf16>,
                             %k: tensor<1x2x8x16xbf16>,
                             %v: tensor<1x2x8x16xbf16>,
                             %m: tensor<1x1x8x8xbf16>)
    -> tensor<1x2x8x16xbf16> {
  %o = flash.attention %q, %k, %v mask(%m : tensor<1x1x8x8xbf16>)
      {softcap = 30.0 : f32}
      : tensor<1x2x8x16xbf16>, tensor<1x2x8x16xbf16>, tensor<1x2x8x16xbf16>
      -> tensor<1x2x8x16xbf16>
  return %o : tensor<1x2x8x16xbf16>
}

// -----

// Softcap alone: no select, the tanh result feeds the softmax.
// CHECK-LABEL: func.func @softcap(
// CHECK:         linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]}
// CHECK:           math.tanh
// CHECK-NOT:       arith.select
// CHECK:           linalg.yield
// CHECK:         arith.maximumf
func.func @softcap(%q: tensor<1x2x8x16xf32>, %k: tensor<1x2x8x16xf32>,
                   %v: tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32> {
  %o = flash.attention %q, %k, %v {softcap = 50.0 : f32}
      : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>
      -> tensor<1x2x8x16xf32>
  return %o : tensor<1x2x8x16xf32>
}
