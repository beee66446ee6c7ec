// RUN: flash-opt %s --flash-raise-attention --split-input-file | FileCheck %s

// Grouped-query attention spelled as repeat_kv: K and V [B, Hkv, L, D] are
// broadcast to [B, Hkv, G, L, D] with linalg.broadcast and collapsed to
// [B, Hkv*G, L, D]; the raised op takes the un-repeated K and V.
// CHECK-LABEL: func.func @repeat_kv_broadcast(
// CHECK-SAME: %[[Q:[^:]*]]: tensor<1x8x16x8xf32>, %[[K:[^:]*]]: tensor<1x2x16x8xf32>, %[[V:[^:]*]]: tensor<1x2x16x8xf32>
// CHECK-NEXT: %[[O:.*]] = flash.attention %[[Q]], %[[K]], %[[V]] {mask_kind = #flash.mask<causal>} : tensor<1x8x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x8x16x8xf32>
// CHECK-NEXT: return %[[O]]
func.func @repeat_kv_broadcast(%q: tensor<1x8x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) -> tensor<1x8x16x8xf32> {
  %c0 = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %scale = arith.constant 0.353553385 : f32
  %e5 = tensor.empty() : tensor<1x2x4x16x8xf32>
  %kb = linalg.broadcast ins(%k : tensor<1x2x16x8xf32>) outs(%e5 : tensor<1x2x4x16x8xf32>) dimensions = [2]
  %vb = linalg.broadcast ins(%v : tensor<1x2x16x8xf32>) outs(%e5 : tensor<1x2x4x16x8xf32>) dimensions = [2]
  %kr = tensor.collapse_shape %kb [[0], [1, 2], [3], [4]] : tensor<1x2x4x16x8xf32> into tensor<1x8x16x8xf32>
  %vr = tensor.collapse_shape %vb [[0], [1, 2], [3], [4]] : tensor<1x2x4x16x8xf32> into tensor<1x8x16x8xf32>
  %q3 = tensor.collapse_shape %q [[0, 1], [2], [3]] : tensor<1x8x16x8xf32> into tensor<8x16x8xf32>
  %k3 = tensor.collapse_shape %kr [[0, 1], [2], [3]] : tensor<1x8x16x8xf32> into tensor<8x16x8xf32>
  %v3 = tensor.collapse_shape %vr [[0, 1], [2], [3]] : tensor<1x8x16x8xf32> into tensor<8x16x8xf32>
  %e = tensor.empty() : tensor<8x16x16xf32>
  %z = linalg.fill ins(%c0 : f32) outs(%e : tensor<8x16x16xf32>) -> tensor<8x16x16xf32>
  %s = linalg.batch_matmul indexing_maps = [affine_map<(b, m, n, k) -> (b, m, k)>, affine_map<(b, m, n, k) -> (b, n, k)>, affine_map<(b, m, n, k) -> (b, m, n)>] ins(%q3, %k3 : tensor<8x16x8xf32>, tensor<8x16x8xf32>) outs(%z : tensor<8x16x16xf32>) -> tensor<8x16x16xf32>
  %sm = linalg.generic {indexing_maps = [affine_map<(b, i, j) -> (b, i, j)>, affine_map<(b, i, j) -> (b, i, j)>], iterator_types = ["parallel", "parallel", "parallel"]} ins(%s : tensor<8x16x16xf32>) outs(%e : tensor<8x16x16xf32>) {
  ^bb0(%a: f32, %o: f32):
    %i = linalg.index 1 : index
    %j = linalg.index 2 : index
    %vis = arith.cmpi ule, %j, %i : index
    %x = arith.mulf %a, %scale : f32
    %y = arith.select %vis, %x, %ninf : f32
    linalg.yield %y : f32
  } -> tensor<8x16x16xf32>
  %p = linalg.softmax dimension(2) ins(%sm : tensor<8x16x16xf32>) outs(%e : tensor<8x16x16xf32>) -> tensor<8x16x16xf32>
  %eo = tensor.empty() : tensor<8x16x8xf32>
  %zo = linalg.fill ins(%c0 : f32) outs(%eo : tensor<8x16x8xf32>) -> tensor<8x16x8xf32>
  %o3 = linalg.batch_matmul ins(%p, %v3 : tensor<8x16x16xf32>, tensor<8x16x8xf32>) outs(%zo : tensor<8x16x8xf32>) -> tensor<8x16x8xf32>
  %o = tensor.expand_shape %o3 [[0, 1], [2], [3]] output_shape [1, 8, 16, 8] : tensor<8x16x8xf32> into tensor<1x8x16x8xf32>
  return %o : tensor<1x8x16x8xf32>
}

// -----

// repeat_kv as torch-mlir emits it: a broadcasting generic (the expand of
// a [B, Hkv, 1, L, D] view) and a collapse, f16 with the softmax in f32.
#r_in = affine_map<(b, h, g, l, d) -> (b, h, l, d)>
#r_out = affine_map<(b, h, g, l, d) -> (b, h, g, l, d)>
// CHECK-LABEL: func.func @repeat_kv_generic_f16(
// CHECK-SAME: %[[Q:[^:]*]]: tensor<2x4x8x8xf16>, %[[K:[^:]*]]: tensor<2x1x8x8xf16>, %[[V:[^:]*]]: tensor<2x1x8x8xf16>
// CHECK-NEXT: %[[O:.*]] = flash.attention %[[Q]], %[[K]], %[[V]] : tensor<2x4x8x8xf16>, tensor<2x1x8x8xf16>, tensor<2x1x8x8xf16> -> tensor<2x4x8x8xf16>
// CHECK-NEXT: return %[[O]]
func.func @repeat_kv_generic_f16(%q: tensor<2x4x8x8xf16>, %k: tensor<2x1x8x8xf16>, %v: tensor<2x1x8x8xf16>) -> tensor<2x4x8x8xf16> {
  %c0 = arith.constant 0.0 : f32
  %c0h = arith.constant 0.0 : f16
  %scale = arith.constant 0.353553385 : f32
  %e5 = tensor.empty() : tensor<2x1x4x8x8xf16>
  %kb = linalg.generic {indexing_maps = [#r_in, #r_out], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]} ins(%k : tensor<2x1x8x8xf16>) outs(%e5 : tensor<2x1x4x8x8xf16>) {
  ^bb0(%in: f16, %out: f16):
    linalg.yield %in : f16
  } -> tensor<2x1x4x8x8xf16>
  %vb = linalg.generic {indexing_maps = [#r_in, #r_out], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]} ins(%v : tensor<2x1x8x8xf16>) outs(%e5 : tensor<2x1x4x8x8xf16>) {
  ^bb0(%in: f16, %out: f16):
    linalg.yield %in : f16
  } -> tensor<2x1x4x8x8xf16>
  %kr = tensor.collapse_shape %kb [[0], [1, 2], [3], [4]] : tensor<2x1x4x8x8xf16> into tensor<2x4x8x8xf16>
  %vr = tensor.collapse_shape %vb [[0], [1, 2], [3], [4]] : tensor<2x1x4x8x8xf16> into tensor<2x4x8x8xf16>
  %e = tensor.empty() : tensor<2x4x8x8xf32>
  %z = linalg.fill ins(%c0 : f32) outs(%e : tensor<2x4x8x8xf32>) -> tensor<2x4x8x8xf32>
  %s = linalg.generic {indexing_maps = [affine_map<(b, h, i, j, d) -> (b, h, i, d)>, affine_map<(b, h, i, j, d) -> (b, h, j, d)>, affine_map<(b, h, i, j, d) -> (b, h, i, j)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%q, %kr : tensor<2x4x8x8xf16>, tensor<2x4x8x8xf16>) outs(%z : tensor<2x4x8x8xf32>) {
  ^bb0(%a: f16, %b: f16, %acc: f32):
    %af = arith.extf %a : f16 to f32
    %bf = arith.extf %b : f16 to f32
    %x = arith.mulf %af, %bf : f32
    %y = arith.addf %acc, %x : f32
    linalg.yield %y : f32
  } -> tensor<2x4x8x8xf32>
  %ss = linalg.generic {indexing_maps = [affine_map<(b, h, i, j) -> (b, h, i, j)>, affine_map<(b, h, i, j) -> (b, h, i, j)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%s : tensor<2x4x8x8xf32>) outs(%e : tensor<2x4x8x8xf32>) {
  ^bb0(%a: f32, %o: f32):
    %x = arith.mulf %a, %scale : f32
    linalg.yield %x : f32
  } -> tensor<2x4x8x8xf32>
  %p = linalg.softmax dimension(3) ins(%ss : tensor<2x4x8x8xf32>) outs(%e : tensor<2x4x8x8xf32>) -> tensor<2x4x8x8xf32>
  %eh = tensor.empty() : tensor<2x4x8x8xf16>
  %ph = linalg.generic {indexing_maps = [affine_map<(b, h, i, j) -> (b, h, i, j)>, affine_map<(b, h, i, j) -> (b, h, i, j)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%p : tensor<2x4x8x8xf32>) outs(%eh : tensor<2x4x8x8xf16>) {
  ^bb0(%a: f32, %o: f16):
    %t = arith.truncf %a : f32 to f16
    linalg.yield %t : f16
  } -> tensor<2x4x8x8xf16>
  %zo = linalg.fill ins(%c0h : f16) outs(%eh : tensor<2x4x8x8xf16>) -> tensor<2x4x8x8xf16>
  %o = linalg.generic {indexing_maps = [affine_map<(b, h, i, e, j) -> (b, h, i, j)>, affine_map<(b, h, i, e, j) -> (b, h, j, e)>, affine_map<(b, h, i, e, j) -> (b, h, i, e)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%ph, %vr : tensor<2x4x8x8xf16>, tensor<2x4x8x8xf16>) outs(%zo : tensor<2x4x8x8xf16>) {
  ^bb0(%a: f16, %b: f16, %acc: f16):
    %x = arith.mulf %a, %b : f16
    %y = arith.addf %acc, %x : f16
    linalg.yield %y : f16
  } -> tensor<2x4x8x8xf16>
  return %o : tensor<2x4x8x8xf16>
}

// -----

// Negative: repeat_kv, but the softmax normalizes over the heads.
#n_in = affine_map<(b, h, g, l, d) -> (b, h, l, d)>
#n_out = affine_map<(b, h, g, l, d) -> (b, h, g, l, d)>
// CHECK-LABEL: func.func @neg_repeat_kv_softmax_over_heads(
// CHECK-NOT: flash.attention
// CHECK: linalg.softmax dimension(1)
func.func @neg_repeat_kv_softmax_over_heads(%q: tensor<2x4x8x8xf16>, %k: tensor<2x1x8x8xf16>, %v: tensor<2x1x8x8xf16>) -> tensor<2x4x8x8xf16> {
  %c0 = arith.constant 0.0 : f32
  %c0h = arith.constant 0.0 : f16
  %scale = arith.constant 0.353553385 : f32
  %e5 = tensor.empty() : tensor<2x1x4x8x8xf16>
  %kb = linalg.generic {indexing_maps = [#n_in, #n_out], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]} ins(%k : tensor<2x1x8x8xf16>) outs(%e5 : tensor<2x1x4x8x8xf16>) {
  ^bb0(%in: f16, %out: f16):
    linalg.yield %in : f16
  } -> tensor<2x1x4x8x8xf16>
  %vb = linalg.generic {indexing_maps = [#n_in, #n_out], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]} ins(%v : tensor<2x1x8x8xf16>) outs(%e5 : tensor<2x1x4x8x8xf16>) {
  ^bb0(%in: f16, %out: f16):
    linalg.yield %in : f16
  } -> tensor<2x1x4x8x8xf16>
  %kr = tensor.collapse_shape %kb [[0], [1, 2], [3], [4]] : tensor<2x1x4x8x8xf16> into tensor<2x4x8x8xf16>
  %vr = tensor.collapse_shape %vb [[0], [1, 2], [3], [4]] : tensor<2x1x4x8x8xf16> into tensor<2x4x8x8xf16>
  %e = tensor.empty() : tensor<2x4x8x8xf32>
  %z = linalg.fill ins(%c0 : f32) outs(%e : tensor<2x4x8x8xf32>) -> tensor<2x4x8x8xf32>
  %s = linalg.generic {indexing_maps = [affine_map<(b, h, i, j, d) -> (b, h, i, d)>, affine_map<(b, h, i, j, d) -> (b, h, j, d)>, affine_map<(b, h, i, j, d) -> (b, h, i, j)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%q, %kr : tensor<2x4x8x8xf16>, tensor<2x4x8x8xf16>) outs(%z : tensor<2x4x8x8xf32>) {
  ^bb0(%a: f16, %b: f16, %acc: f32):
    %af = arith.extf %a : f16 to f32
    %bf = arith.extf %b : f16 to f32
    %x = arith.mulf %af, %bf : f32
    %y = arith.addf %acc, %x : f32
    linalg.yield %y : f32
  } -> tensor<2x4x8x8xf32>
  %ss = linalg.generic {indexing_maps = [affine_map<(b, h, i, j) -> (b, h, i, j)>, affine_map<(b, h, i, j) -> (b, h, i, j)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%s : tensor<2x4x8x8xf32>) outs(%e : tensor<2x4x8x8xf32>) {
  ^bb0(%a: f32, %o: f32):
    %x = arith.mulf %a, %scale : f32
    linalg.yield %x : f32
  } -> tensor<2x4x8x8xf32>
  %p = linalg.softmax dimension(1) ins(%ss : tensor<2x4x8x8xf32>) outs(%e : tensor<2x4x8x8xf32>) -> tensor<2x4x8x8xf32>
  %eh = tensor.empty() : tensor<2x4x8x8xf16>
  %ph = linalg.generic {indexing_maps = [affine_map<(b, h, i, j) -> (b, h, i, j)>, affine_map<(b, h, i, j) -> (b, h, i, j)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%p : tensor<2x4x8x8xf32>) outs(%eh : tensor<2x4x8x8xf16>) {
  ^bb0(%a: f32, %o: f16):
    %t = arith.truncf %a : f32 to f16
    linalg.yield %t : f16
  } -> tensor<2x4x8x8xf16>
  %zo = linalg.fill ins(%c0h : f16) outs(%eh : tensor<2x4x8x8xf16>) -> tensor<2x4x8x8xf16>
  %o = linalg.generic {indexing_maps = [affine_map<(b, h, i, e, j) -> (b, h, i, j)>, affine_map<(b, h, i, e, j) -> (b, h, j, e)>, affine_map<(b, h, i, e, j) -> (b, h, i, e)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%ph, %vr : tensor<2x4x8x8xf16>, tensor<2x4x8x8xf16>) outs(%zo : tensor<2x4x8x8xf16>) {
  ^bb0(%a: f16, %b: f16, %acc: f16):
    %x = arith.mulf %a, %b : f16
    %y = arith.addf %acc, %x : f16
    linalg.yield %y : f16
  } -> tensor<2x4x8x8xf16>
  return %o : tensor<2x4x8x8xf16>
}
