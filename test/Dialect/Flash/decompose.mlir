// RUN: flash-opt %s -split-input-file --flash-decompose-attention | FileCheck %s

// Dense flash.attention: the contractions, the safe softmax, the lse, the
// structural masks, grouped-query attention and element types.

// Loop order of the Q Kᵀ and P V contractions: b, hk, g, i, j|e, d|j.
// CHECK-DAG: #[[Q5:map[0-9]*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d2, d3, d5)>
// CHECK-DAG: #[[K4:map[0-9]*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d4, d5)>
// CHECK-DAG: #[[OUT5:map[0-9]*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d2, d3, d4)>
// CHECK-DAG: #[[V4:map[0-9]*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d5, d4)>
// CHECK-DAG: #[[ID5:map[0-9]*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3, d4)>
// CHECK-DAG: #[[ROW:map[0-9]*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3)>

// CHECK-LABEL: func.func @gqa_lse(
// CHECK-SAME:      %[[Q:[^:]+]]: tensor<2x4x8x16xf32>, %[[K:[^:]+]]: tensor<2x2x8x16xf32>, %[[V:[^:]+]]: tensor<2x2x8x16xf32>)
// CHECK-DAG:     %[[NEG_INF:.+]] = arith.constant 0xFF800000 : f32
// CHECK-DAG:     %[[SCALE:.+]] = arith.constant 2.500000e-01 : f32
// GQA: query head h = hk * 2 + g is viewed as [B, Hkv, G, Lq, D].
// CHECK:         %[[Q5V:.+]] = tensor.expand_shape %[[Q]] {{\[\[}}0], [1, 2], [3], [4]] output_shape [2, 2, 2, 8, 16] : tensor<2x4x8x16xf32> into tensor<2x2x2x8x16xf32>
// CHECK:         %[[DOTS:.+]] = linalg.generic {indexing_maps = [#[[Q5]], #[[K4]], #[[OUT5]]], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%[[Q5V]], %[[K]] : tensor<2x2x2x8x16xf32>, tensor<2x2x8x16xf32>) outs(%{{.+}} : tensor<2x2x2x8x8xf32>)
// CHECK:           arith.mulf
// CHECK:           arith.addf
// CHECK:         %[[SCORES:.+]] = linalg.generic {indexing_maps = [#[[ID5]], #[[ID5]]], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]} ins(%[[DOTS]] :
// CHECK:           %[[S:.+]] = arith.mulf %{{.+}}, %[[SCALE]] : f32
// CHECK-NEXT:      linalg.yield %[[S]] : f32
// CHECK:         %[[MAX:.+]] = linalg.generic {indexing_maps = [#[[ID5]], #[[ROW]]], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%[[SCORES]] :
// CHECK:           arith.maximumf
// The row maximum is replaced by 0 for rows that see no key (max = -inf).
// CHECK:         %[[EXP:.+]] = linalg.generic {indexing_maps = [#[[ID5]], #[[ROW]], #[[ID5]]], {{.*}} ins(%[[SCORES]], %[[MAX]] :
// CHECK:           arith.cmpf oeq, %{{.+}}, %[[NEG_INF]] : f32
// CHECK:           arith.subf
// CHECK:           math.exp
// CHECK:         %[[SUM:.+]] = linalg.generic {indexing_maps = [#[[ID5]], #[[ROW]]], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%[[EXP]] :
// CHECK:           arith.addf
// CHECK:         %[[PV:.+]] = linalg.generic {indexing_maps = [#[[Q5]], #[[V4]], #[[OUT5]]], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%[[EXP]], %[[V]] :
// Normalization; an empty row (sum 0) gives 0.
// CHECK:         %[[NORM:.+]] = linalg.generic {{.*}} ins(%[[PV]], %[[SUM]] :
// CHECK:           %[[EMPTY:.+]] = arith.cmpf oeq
// CHECK:           %[[DIV:.+]] = arith.divf
// CHECK:           arith.select %[[EMPTY]], %{{.+}}, %[[DIV]] : f32
// CHECK:         %[[OUT:.+]] = tensor.collapse_shape %[[NORM]] {{\[\[}}0], [1, 2], [3], [4]] : tensor<2x2x2x8x16xf32> into tensor<2x4x8x16xf32>
// lse = max + log(sum): -inf for an empty row.
// CHECK:         %[[LSE5:.+]] = linalg.generic {{.*}} ins(%[[MAX]], %[[SUM]] :
// CHECK:           math.log
// CHECK:           arith.addf
// CHECK:         %[[LSE:.+]] = tensor.collapse_shape %[[LSE5]] {{\[\[}}0], [1, 2], [3]] : tensor<2x2x2x8xf32> into tensor<2x4x8xf32>
// CHECK:         return %[[OUT]], %[[LSE]]
func.func @gqa_lse(%q: tensor<2x4x8x16xf32>, %k: tensor<2x2x8x16xf32>,
                   %v: tensor<2x2x8x16xf32>)
    -> (tensor<2x4x8x16xf32>, tensor<2x4x8xf32>) {
  %o, %lse = flash.attention %q, %k, %v
      : tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32>
      -> tensor<2x4x8x16xf32>, tensor<2x4x8xf32>
  return %o, %lse : tensor<2x4x8x16xf32>, tensor<2x4x8xf32>
}

// -----

// CHECK-LABEL: func.func @causal(
// CHECK-DAG:     %[[NEG_INF:.+]] = arith.constant 0xFF800000 : f32
// CHECK:         linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction"]
// CHECK:         linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]
// CHECK:           %[[I:.+]] = linalg.index 3 : index
// CHECK:           %[[J:.+]] = linalg.index 4 : index
// CHECK:           %[[S:.+]] = arith.mulf
// CHECK:           %[[VISIBLE:.+]] = arith.cmpi sle, %[[J]], %[[I]] : index
// CHECK:           %[[R:.+]] = arith.select %[[VISIBLE]], %[[S]], %[[NEG_INF]] : f32
// CHECK:           linalg.yield %[[R]]
// CHECK:         math.exp
func.func @causal(%q: tensor<1x2x8x16xf32>, %k: tensor<1x2x8x16xf32>,
                  %v: tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32> {
  %o = flash.attention %q, %k, %v {mask_kind = #flash.mask<causal>}
      : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>
      -> tensor<1x2x8x16xf32>
  return %o : tensor<1x2x8x16xf32>
}

// -----

// Bottom-right: j <= i + (Lk - Lq), with Lk - Lq = 5 folded.
// CHECK-LABEL: func.func @causal_bottom_right(
// CHECK-DAG:     %[[NEG_INF:.+]] = arith.constant 0xFF800000 : f32
// CHECK-DAG:     %[[OFFSET:.+]] = arith.constant 5 : index
// CHECK:         linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]
// CHECK:           %[[I:.+]] = linalg.index 3 : index
// CHECK:           %[[J:.+]] = linalg.index 4 : index
// CHECK:           %[[DIAG:.+]] = arith.addi %[[I]], %[[OFFSET]] : index
// CHECK:           %[[VISIBLE:.+]] = arith.cmpi sle, %[[J]], %[[DIAG]] : index
// CHECK:           arith.select %[[VISIBLE]], %{{.+}}, %[[NEG_INF]] : f32
func.func @causal_bottom_right(%q: tensor<1x1x3x16xf32>,
                               %k: tensor<1x1x8x16xf32>,
                               %v: tensor<1x1x8x16xf32>)
    -> tensor<1x1x3x16xf32> {
  %o = flash.attention %q, %k, %v {mask_kind = #flash.mask<causal_bottom_right>}
      : tensor<1x1x3x16xf32>, tensor<1x1x8x16xf32>, tensor<1x1x8x16xf32>
      -> tensor<1x1x3x16xf32>
  return %o : tensor<1x1x3x16xf32>
}

// -----

// Sliding window (left 3, right 1) in the bottom-right frame:
// i' - 3 <= j <= i' + 1 with i' = i + 5.
// CHECK-LABEL: func.func @sliding_window(
// CHECK-DAG:     %[[NEG_INF:.+]] = arith.constant 0xFF800000 : f32
// CHECK-DAG:     %[[OFFSET:.+]] = arith.constant 5 : index
// CHECK-DAG:     %[[LEFT:.+]] = arith.constant 3 : index
// CHECK-DAG:     %[[RIGHT:.+]] = arith.constant 1 : index
// CHECK:         linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]
// CHECK:           %[[I:.+]] = linalg.index 3 : index
// CHECK:           %[[J:.+]] = linalg.index 4 : index
// CHECK:           %[[DIAG:.+]] = arith.addi %[[I]], %[[OFFSET]] : index
// CHECK-DAG:       %[[LO:.+]] = arith.subi %[[DIAG]], %[[LEFT]] : index
// CHECK-DAG:       %[[HI:.+]] = arith.addi %[[DIAG]], %[[RIGHT]] : index
// CHECK-DAG:       %[[BELOW_HI:.+]] = arith.cmpi sle, %[[J]], %[[HI]] : index
// CHECK-DAG:       %[[ABOVE_LO:.+]] = arith.cmpi sge, %[[J]], %[[LO]] : index
// CHECK:           %[[VISIBLE:.+]] = arith.andi
// CHECK:           arith.select %[[VISIBLE]], %{{.+}}, %[[NEG_INF]] : f32
func.func @sliding_window(%q: tensor<1x1x3x16xf32>, %k: tensor<1x1x8x16xf32>,
                          %v: tensor<1x1x8x16xf32>) -> tensor<1x1x3x16xf32> {
  %o = flash.attention %q, %k, %v
      {mask_kind = #flash.mask<sliding_window>, window = array<i64: 3, 1>}
      : tensor<1x1x3x16xf32>, tensor<1x1x8x16xf32>, tensor<1x1x8x16xf32>
      -> tensor<1x1x3x16xf32>
  return %o : tensor<1x1x3x16xf32>
}

// -----

// Window sides are clamped to Lq + Lk (KeyBand.h) before the band
// arithmetic, so INT64_MAX cannot overflow: with Lq = 3 and Lk = 8 it
// becomes 11.
// CHECK-LABEL: func.func @sliding_window_int64_max(
// CHECK-DAG:     %[[WIDEST:.+]] = arith.constant 11 : index
// CHECK-DAG:     %[[OFFSET:.+]] = arith.constant 5 : index
// CHECK:         linalg.generic
// CHECK:           %[[I:.+]] = linalg.index 3 : index
// CHECK:           %[[DIAG:.+]] = arith.addi %[[I]], %[[OFFSET]] : index
// CHECK-DAG:       arith.subi %[[DIAG]], %[[WIDEST]] : index
// CHECK-DAG:       arith.addi %[[DIAG]], %[[WIDEST]] : index
// CHECK-NOT:       9223372036854775807
func.func @sliding_window_int64_max(%q: tensor<1x1x3x16xf32>,
                                    %k: tensor<1x1x8x16xf32>,
                                    %v: tensor<1x1x8x16xf32>)
    -> tensor<1x1x3x16xf32> {
  %o = flash.attention %q, %k, %v
      {mask_kind = #flash.mask<sliding_window>,
       window = array<i64: 9223372036854775807, 9223372036854775807>}
      : tensor<1x1x3x16xf32>, tensor<1x1x8x16xf32>, tensor<1x1x8x16xf32>
      -> tensor<1x1x3x16xf32>
  return %o : tensor<1x1x3x16xf32>
}

// -----

// f16 and bf16 operands are extended to f32; the output is truncated back.
// CHECK-LABEL: func.func @f16(
// Default scale 1/sqrt(64).
// CHECK-DAG:     %[[SCALE:.+]] = arith.constant 1.250000e-01 : f32
// CHECK:         linalg.generic {{.*}} ins(%{{.+}}, %{{.+}} : tensor<1x1x1x8x64xf16>, tensor<1x1x8x64xf16>) outs(%{{.+}} : tensor<1x1x1x8x8xf32>)
// CHECK:           arith.extf %{{.+}} : f16 to f32
// CHECK:           arith.extf %{{.+}} : f16 to f32
// CHECK:         linalg.generic
// CHECK:           arith.mulf %{{.+}}, %[[SCALE]] : f32
// CHECK:         linalg.generic {{.*}} outs(%{{.+}} : tensor<1x1x1x8x64xf16>)
// CHECK:           arith.divf
// CHECK:           arith.truncf %{{.+}} : f32 to f16
// CHECK:         tensor.collapse_shape %{{.+}} : tensor<1x1x1x8x64xf16> into tensor<1x1x8x64xf16>
func.func @f16(%q: tensor<1x1x8x64xf16>, %k: tensor<1x1x8x64xf16>,
               %v: tensor<1x1x8x64xf16>) -> tensor<1x1x8x64xf16> {
  %o = flash.attention %q, %k, %v
      : tensor<1x1x8x64xf16>, tensor<1x1x8x64xf16>, tensor<1x1x8x64xf16>
      -> tensor<1x1x8x64xf16>
  return %o : tensor<1x1x8x64xf16>
}

// -----

// Dynamic extents: G = Hq / Hkv and Lk - Lq are computed at run time, and the
// explicit scale is used. With Hkv and G both dynamic, the query's heads are
// copied into [B, Hkv, G, Lq, D] (element [b, hk, g, ...] is
// q[b, hk * G + g, ...]) rather than expanded.
// CHECK-LABEL: func.func @dynamic(
// CHECK-SAME:      %[[Q:[^:]+]]: tensor<?x?x?x?xbf16>, %[[K:[^:]+]]: tensor<?x?x?x?xbf16>
// CHECK-DAG:     %[[C1:.+]] = arith.constant 1 : index
// CHECK-DAG:     %[[C2:.+]] = arith.constant 2 : index
// CHECK-DAG:     %[[SCALE:.+]] = arith.constant 3.000000e-01 : f32
// CHECK-DAG:     %[[HQ:.+]] = tensor.dim %[[Q]], %[[C1]]
// CHECK-DAG:     %[[LQ:.+]] = tensor.dim %[[Q]], %[[C2]]
// CHECK-DAG:     %[[HKV:.+]] = tensor.dim %[[K]], %[[C1]]
// CHECK-DAG:     %[[LK:.+]] = tensor.dim %[[K]], %[[C2]]
// CHECK-DAG:     %[[G:.+]] = arith.divui %[[HQ]], %[[HKV]] : index
// CHECK-DAG:     %[[OFFSET:.+]] = arith.subi %[[LK]], %[[LQ]] : index
// CHECK:         %[[QE:.+]] = tensor.empty(%{{.+}}, %[[HKV]], %[[G]], %{{.+}}, %{{.+}}) : tensor<?x?x?x?x?xbf16>
// CHECK:         linalg.generic {{.*}} outs(%[[QE]] : tensor<?x?x?x?x?xbf16>)
// CHECK:           %[[HK:.+]] = linalg.index 1 : index
// CHECK:           %[[GI:.+]] = linalg.index 2 : index
// CHECK:           %[[HG:.+]] = arith.muli %[[HK]], %[[G]] : index
// CHECK:           %[[H:.+]] = arith.addi %[[HG]], %[[GI]] : index
// CHECK:           tensor.extract %[[Q]][%{{.+}}, %[[H]], %{{.+}}, %{{.+}}] : tensor<?x?x?x?xbf16>
// CHECK:         linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]
// CHECK:           %[[I:.+]] = linalg.index 3 : index
// CHECK:           %[[J:.+]] = linalg.index 4 : index
// CHECK:           arith.mulf %{{.+}}, %[[SCALE]] : f32
// CHECK:           %[[DIAG:.+]] = arith.addi %[[I]], %[[OFFSET]] : index
// CHECK:           arith.cmpi sle, %[[J]], %[[DIAG]] : index
// CHECK:         return %{{.+}} : tensor<?x?x?x?xbf16>
func.func @dynamic(%q: tensor<?x?x?x?xbf16>, %k: tensor<?x?x?x?xbf16>,
                   %v: tensor<?x?x?x?xbf16>) -> tensor<?x?x?x?xbf16> {
  %o = flash.attention %q, %k, %v
      {scale = 0.3 : f32, mask_kind = #flash.mask<causal_bottom_right>}
      : tensor<?x?x?x?xbf16>, tensor<?x?x?x?xbf16>, tensor<?x?x?x?xbf16>
      -> tensor<?x?x?x?xbf16>
  return %o : tensor<?x?x?x?xbf16>
}
