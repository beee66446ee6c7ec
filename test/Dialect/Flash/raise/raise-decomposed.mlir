// RUN: flash-opt %s --flash-decompose-attention | flash-opt --flash-raise-attention | FileCheck %s
// RUN: flash-opt %s --flash-decompose-attention --canonicalize --cse | flash-opt --flash-raise-attention | FileCheck %s

// Decompose then raise gives back the op: every flash.attention below is
// rewritten into linalg by flash-decompose-attention and raised back.

// CHECK-LABEL: func.func @plain(
func.func @plain(%q: tensor<2x4x16x8xf32>, %k: tensor<2x4x24x8xf32>, %v: tensor<2x4x24x8xf32>) -> tensor<2x4x16x8xf32> {
// CHECK-NEXT: %{{.*}} = flash.attention %{{.*}}, %{{.*}}, %{{.*}} : tensor<2x4x16x8xf32>, tensor<2x4x24x8xf32>, tensor<2x4x24x8xf32> -> tensor<2x4x16x8xf32>
// CHECK-NEXT: return
  %o = flash.attention %q, %k, %v : tensor<2x4x16x8xf32>, tensor<2x4x24x8xf32>, tensor<2x4x24x8xf32> -> tensor<2x4x16x8xf32>
  return %o : tensor<2x4x16x8xf32>
}
// CHECK-LABEL: func.func @gqa_causal(
func.func @gqa_causal(%q: tensor<2x8x16x8xf16>, %k: tensor<2x2x16x8xf16>, %v: tensor<2x2x16x8xf16>) -> tensor<2x8x16x8xf16> {
// CHECK-NEXT: %{{.*}} = flash.attention %{{.*}}, %{{.*}}, %{{.*}} {mask_kind = #flash.mask<causal>, scale = 5.000000e-01 : f32} : tensor<2x8x16x8xf16>, tensor<2x2x16x8xf16>, tensor<2x2x16x8xf16> -> tensor<2x8x16x8xf16>
// CHECK-NEXT: return
  %o = flash.attention %q, %k, %v {mask_kind = #flash.mask<causal>, scale = 0.5 : f32} : tensor<2x8x16x8xf16>, tensor<2x2x16x8xf16>, tensor<2x2x16x8xf16> -> tensor<2x8x16x8xf16>
  return %o : tensor<2x8x16x8xf16>
}
// CHECK-LABEL: func.func @br(
func.func @br(%q: tensor<1x2x4x8xf32>, %k: tensor<1x2x12x8xf32>, %v: tensor<1x2x12x8xf32>) -> tensor<1x2x4x8xf32> {
// CHECK-NEXT: %{{.*}} = flash.attention %{{.*}}, %{{.*}}, %{{.*}} {mask_kind = #flash.mask<causal_bottom_right>} : tensor<1x2x4x8xf32>, tensor<1x2x12x8xf32>, tensor<1x2x12x8xf32> -> tensor<1x2x4x8xf32>
// CHECK-NEXT: return
  %o = flash.attention %q, %k, %v {mask_kind = #flash.mask<causal_bottom_right>} : tensor<1x2x4x8xf32>, tensor<1x2x12x8xf32>, tensor<1x2x12x8xf32> -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}
// CHECK-LABEL: func.func @window(
func.func @window(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) -> tensor<1x2x16x8xf32> {
// CHECK-NEXT: %{{.*}} = flash.attention %{{.*}}, %{{.*}}, %{{.*}} {mask_kind = #flash.mask<sliding_window>, window = array<i64: 3, 1>} : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
// CHECK-NEXT: return
  %o = flash.attention %q, %k, %v {mask_kind = #flash.mask<sliding_window>, window = array<i64: 3, 1>} : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return %o : tensor<1x2x16x8xf32>
}
// CHECK-LABEL: func.func @addmask(
func.func @addmask(%q: tensor<2x4x16x8xbf16>, %k: tensor<2x4x16x8xbf16>, %v: tensor<2x4x16x8xbf16>, %m: tensor<2x1x1x16xf32>) -> tensor<2x4x16x8xbf16> {
// CHECK-NEXT: %{{.*}} = flash.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%{{.*}} : tensor<2x1x1x16xf32>) : tensor<2x4x16x8xbf16>, tensor<2x4x16x8xbf16>, tensor<2x4x16x8xbf16> -> tensor<2x4x16x8xbf16>
// CHECK-NEXT: return
  %o = flash.attention %q, %k, %v mask(%m : tensor<2x1x1x16xf32>) : tensor<2x4x16x8xbf16>, tensor<2x4x16x8xbf16>, tensor<2x4x16x8xbf16> -> tensor<2x4x16x8xbf16>
  return %o : tensor<2x4x16x8xbf16>
}
// CHECK-LABEL: func.func @boolmask(
func.func @boolmask(%q: tensor<2x4x16x8xf32>, %k: tensor<2x2x16x8xf32>, %v: tensor<2x2x16x8xf32>, %m: tensor<2x4x16x16xi1>) -> tensor<2x4x16x8xf32> {
// CHECK-NEXT: %{{.*}} = flash.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%{{.*}} : tensor<2x4x16x16xi1>) : tensor<2x4x16x8xf32>, tensor<2x2x16x8xf32>, tensor<2x2x16x8xf32> -> tensor<2x4x16x8xf32>
// CHECK-NEXT: return
  %o = flash.attention %q, %k, %v mask(%m : tensor<2x4x16x16xi1>) : tensor<2x4x16x8xf32>, tensor<2x2x16x8xf32>, tensor<2x2x16x8xf32> -> tensor<2x4x16x8xf32>
  return %o : tensor<2x4x16x8xf32>
}
// CHECK-LABEL: func.func @mqa(
func.func @mqa(%q: tensor<2x4x16x8xf32>, %k: tensor<2x1x16x8xf32>, %v: tensor<2x1x16x4xf32>) -> tensor<2x4x16x4xf32> {
// CHECK-NEXT: %{{.*}} = flash.attention %{{.*}}, %{{.*}}, %{{.*}} : tensor<2x4x16x8xf32>, tensor<2x1x16x8xf32>, tensor<2x1x16x4xf32> -> tensor<2x4x16x4xf32>
// CHECK-NEXT: return
  %o = flash.attention %q, %k, %v : tensor<2x4x16x8xf32>, tensor<2x1x16x8xf32>, tensor<2x1x16x4xf32> -> tensor<2x4x16x4xf32>
  return %o : tensor<2x4x16x4xf32>
}

// Negative: with the log-sum-exp result, the decomposition's row max and row
// sum feed the lse too, so the graph is left alone.
// CHECK-LABEL: func.func @neg_with_lse(
// CHECK-NOT: flash.attention
// CHECK: math.log
func.func @neg_with_lse(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) -> (tensor<1x2x16x8xf32>, tensor<1x2x16xf32>) {
  %o, %lse = flash.attention %q, %k, %v : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>, tensor<1x2x16xf32>
  return %o, %lse : tensor<1x2x16x8xf32>, tensor<1x2x16xf32>
}
