// RUN: flash-opt %s -split-input-file --flash-decompose-attention | FileCheck %s

// flash.attention_grad with recomputation: P = exp(S - lse),
// D = rowsum(dO ∘ O), dV = Pᵀ dO, dP = dO Vᵀ, dS = P ∘ (dP - D) · scale,
// dQ = dS K, dK = dSᵀ Q; under GQA, dK and dV sum over the G query heads of
// each key/value head.

// CHECK-DAG: #[[ID5:map[0-9]*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3, d4)>
// CHECK-DAG: #[[ROW:map[0-9]*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3)>
// CHECK-DAG: #[[Q5:map[0-9]*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d2, d3, d5)>
// CHECK-DAG: #[[K4:map[0-9]*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d4, d5)>
// CHECK-DAG: #[[OUT5:map[0-9]*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d2, d3, d4)>
// CHECK-DAG: #[[PT:map[0-9]*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d4, d5, d2)>
// CHECK-DAG: #[[DOT:map[0-9]*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d4, d5, d3)>
// CHECK-DAG: #[[KV4:map[0-9]*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d2, d3)>
// CHECK-DAG: #[[KT:map[0-9]*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d5, d4)>

// CHECK-LABEL: func.func @gqa(
// CHECK-SAME:      %[[Q:[^:]+]]: tensor<1x4x8x16xf32>, %[[K:[^:]+]]: tensor<1x2x8x16xf32>, %[[V:[^:]+]]: tensor<1x2x8x16xf32>, %[[O:[^:]+]]: tensor<1x4x8x16xf32>, %[[DO:[^:]+]]: tensor<1x4x8x16xf32>, %[[LSE:[^:]+]]: tensor<1x4x8xf32>)
// CHECK-DAG:     %[[SCALE:.+]] = arith.constant 2.500000e-01 : f32
// CHECK-DAG:     %[[Q5V:.+]] = tensor.expand_shape %[[Q]] {{\[\[}}0], [1, 2], [3], [4]] {{.*}} into tensor<1x2x2x8x16xf32>
// CHECK-DAG:     %[[O5:.+]] = tensor.expand_shape %[[O]] {{\[\[}}0], [1, 2], [3], [4]] {{.*}} into tensor<1x2x2x8x16xf32>
// CHECK-DAG:     %[[DO5:.+]] = tensor.expand_shape %[[DO]] {{\[\[}}0], [1, 2], [3], [4]] {{.*}} into tensor<1x2x2x8x16xf32>
// CHECK-DAG:     %[[LSE4:.+]] = tensor.expand_shape %[[LSE]] {{\[\[}}0], [1, 2], [3]] {{.*}} into tensor<1x2x2x8xf32>
// CHECK:         %[[DOTS:.+]] = linalg.generic {indexing_maps = [#[[Q5]], #[[K4]], #[[OUT5]]], {{.*}} ins(%[[Q5V]], %[[K]] :
// CHECK:         %[[S:.+]] = linalg.generic {{.*}} ins(%[[DOTS]] :
// CHECK:         %[[P:.+]] = linalg.generic {indexing_maps = [#[[ID5]], #[[ROW]], #[[ID5]]], {{.*}} ins(%[[S]], %[[LSE4]] :
// CHECK:           arith.subf
// CHECK:           math.exp
// CHECK:         %[[D:.+]] = linalg.generic {indexing_maps = [#[[ID5]], #[[ID5]], #[[ROW]]], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%[[DO5]], %[[O5]] :
// CHECK:           arith.mulf
// CHECK:           arith.addf
// dV[b, hk, j, e] sums over g and i.
// CHECK:         %[[DV:.+]] = linalg.generic {indexing_maps = [#[[PT]], #[[DOT]], #[[KV4]]], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction"]} ins(%[[P]], %[[DO5]] : {{.*}}) outs(%{{.+}} : tensor<1x2x8x16xf32>)
// CHECK:         %[[DP:.+]] = linalg.generic {indexing_maps = [#[[Q5]], #[[K4]], #[[OUT5]]], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%[[DO5]], %[[V]] :
// CHECK:         %[[DS:.+]] = linalg.generic {{.*}} ins(%[[P]], %[[DP]], %[[D]] :
// CHECK-NEXT:    ^bb0(%[[PE:[^:]+]]: f32, %[[DPE:[^:]+]]: f32, %[[DE:[^:]+]]: f32, %{{.+}}: f32):
// CHECK:           %[[DIFF:.+]] = arith.subf %[[DPE]], %[[DE]] : f32
// CHECK:           %[[PDIFF:.+]] = arith.mulf %[[PE]], %[[DIFF]] : f32
// CHECK:           %[[R:.+]] = arith.mulf %[[PDIFF]], %[[SCALE]] : f32
// CHECK-NEXT:      linalg.yield %[[R]] : f32
// CHECK:         %[[DQ5:.+]] = linalg.generic {indexing_maps = [#[[Q5]], #[[KT]], #[[OUT5]]], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%[[DS]], %[[K]] :
// CHECK:         %[[DK:.+]] = linalg.generic {indexing_maps = [#[[PT]], #[[DOT]], #[[KV4]]], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction"]} ins(%[[DS]], %[[Q5V]] :
// CHECK:         %[[DQ:.+]] = tensor.collapse_shape %[[DQ5]] {{\[\[}}0], [1, 2], [3], [4]] : tensor<1x2x2x8x16xf32> into tensor<1x4x8x16xf32>
// CHECK:         return %[[DQ]], %[[DK]], %[[DV]]
func.func @gqa(%q: tensor<1x4x8x16xf32>, %k: tensor<1x2x8x16xf32>,
               %v: tensor<1x2x8x16xf32>, %o: tensor<1x4x8x16xf32>,
               %do: tensor<1x4x8x16xf32>, %lse: tensor<1x4x8xf32>)
    -> (tensor<1x4x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>) {
  %dq, %dk, %dv = flash.attention_grad %q, %k, %v, %o, %do, %lse
      : tensor<1x4x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>,
        tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8xf32>
      -> tensor<1x4x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>
  return %dq, %dk, %dv
      : tensor<1x4x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>
}

// -----

// Masks are applied as in the forward op; the softcap's derivative
// 1 - (s_c / cap)² multiplies dS; bf16 results are truncated from f32.
// CHECK-LABEL: func.func @masked_softcap_bf16(
// CHECK-DAG:     %[[ONE:.+]] = arith.constant 1.000000e+00 : f32
// CHECK:         %[[DOTS:.+]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction"]
// CHECK:         linalg.generic {{.*}} ins(%[[DOTS]], %{{.+}} :
// CHECK:           math.tanh
// CHECK:           arith.cmpi sle
// CHECK:           arith.select
// CHECK:         math.exp
// The capped score, recomputed without masks, feeds dS.
// CHECK:         %[[CAPPED:.+]] = linalg.generic {{.*}} ins(%[[DOTS]] :
// CHECK:           math.tanh
// CHECK:         linalg.generic {{.*}} ins(%{{.+}}, %{{.+}}, %{{.+}}, %[[CAPPED]] :
// CHECK-NEXT:    ^bb0(%{{.+}}: f32, %{{.+}}: f32, %{{.+}}: f32, %[[SC:[^:]+]]: f32, %{{.+}}: f32):
// CHECK:           %[[RATIO:.+]] = arith.mulf %[[SC]], %{{.+}} : f32
// CHECK:           %[[SQ:.+]] = arith.mulf %[[RATIO]], %[[RATIO]] : f32
// CHECK:           %[[DERIV:.+]] = arith.subf %[[ONE]], %[[SQ]] : f32
// CHECK:           arith.mulf %{{.+}}, %[[DERIV]] : f32
// CHECK-COUNT-3: arith.truncf %{{.+}} : f32 to bf16
// CHECK:         return %{{.+}}, %{{.+}}, %{{.+}} : tensor<1x2x8x16xbf16>, tensor<1x2x8x16xbf16>, tensor<1x2x8x16xbf16>
func.func @masked_softcap_bf16(%q: tensor<1x2x8x16xbf16>,
                               %k: tensor<1x2x8x16xbf16>,
                               %v: tensor<1x2x8x16xbf16>,
                               %o: tensor<1x2x8x16xbf16>,
                               %do: tensor<1x2x8x16xbf16>,
                               %lse: tensor<1x2x8xf32>,
                               %m: tensor<1x1x8x8xf32>)
    -> (tensor<1x2x8x16xbf16>, tensor<1x2x8x16xbf16>, tensor<1x2x8x16xbf16>) {
  %dq, %dk, %dv = flash.attention_grad %q, %k, %v, %o, %do, %lse
      mask(%m : tensor<1x1x8x8xf32>)
      {mask_kind = #flash.mask<causal>, softcap = 20.0 : f32}
      : tensor<1x2x8x16xbf16>, tensor<1x2x8x16xbf16>, tensor<1x2x8x16xbf16>,
        tensor<1x2x8x16xbf16>, tensor<1x2x8x16xbf16>, tensor<1x2x8xf32>
      -> tensor<1x2x8x16xbf16>, tensor<1x2x8x16xbf16>, tensor<1x2x8x16xbf16>
  return %dq, %dk, %dv
      : tensor<1x2x8x16xbf16>, tensor<1x2x8x16xbf16>, tensor<1x2x8x16xbf16>
}
