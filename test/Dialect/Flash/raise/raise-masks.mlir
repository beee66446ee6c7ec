// RUN: flash-opt %s --flash-raise-attention --split-input-file | FileCheck %s

// Masks on [B, H, L, D] f32 attention written with named ops. The shared
// part: scores = batch_matmul over collapsed heads, then the masking
// generic under test, then linalg.softmax and the P·V batch_matmul.

// A [B, 1, 1, Lk] padding mask, linalg.broadcast to the scores and added.
#m_id = affine_map<(b, h, i, j) -> (b, h, i, j)>
// CHECK-LABEL: func.func @padding_mask_broadcast(
// CHECK-SAME: %[[M:[^:]*]]: tensor<2x16xf32>
// CHECK: %[[M4:.*]] = tensor.expand_shape %[[M]] {{\[}}[0, 1, 2], [3]] output_shape [2, 1, 1, 16]
// CHECK: flash.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%[[M4]] : tensor<2x1x1x16xf32>) : tensor<2x2x8x8xf32>, tensor<2x2x16x8xf32>, tensor<2x2x16x8xf32> -> tensor<2x2x8x8xf32>
// CHECK-NOT: linalg
// CHECK: return
func.func @padding_mask_broadcast(%q: tensor<2x2x8x8xf32>, %k: tensor<2x2x16x8xf32>, %v: tensor<2x2x16x8xf32>, %m: tensor<2x16xf32>) -> tensor<2x2x8x8xf32> {
  %c0 = arith.constant 0.0 : f32
  %scale = arith.constant 0.353553385 : f32
  %q3 = tensor.collapse_shape %q [[0, 1], [2], [3]] : tensor<2x2x8x8xf32> into tensor<4x8x8xf32>
  %k3 = tensor.collapse_shape %k [[0, 1], [2], [3]] : tensor<2x2x16x8xf32> into tensor<4x16x8xf32>
  %v3 = tensor.collapse_shape %v [[0, 1], [2], [3]] : tensor<2x2x16x8xf32> into tensor<4x16x8xf32>
  %e = tensor.empty() : tensor<4x8x16xf32>
  %z = linalg.fill ins(%c0 : f32) outs(%e : tensor<4x8x16xf32>) -> tensor<4x8x16xf32>
  %s3 = linalg.batch_matmul indexing_maps = [affine_map<(b, m, n, k) -> (b, m, k)>, affine_map<(b, m, n, k) -> (b, n, k)>, affine_map<(b, m, n, k) -> (b, m, n)>] ins(%q3, %k3 : tensor<4x8x8xf32>, tensor<4x16x8xf32>) outs(%z : tensor<4x8x16xf32>) -> tensor<4x8x16xf32>
  %s = tensor.expand_shape %s3 [[0, 1], [2], [3]] output_shape [2, 2, 8, 16] : tensor<4x8x16xf32> into tensor<2x2x8x16xf32>
  %e4 = tensor.empty() : tensor<2x2x8x16xf32>
  %mb = linalg.broadcast ins(%m : tensor<2x16xf32>) outs(%e4 : tensor<2x2x8x16xf32>) dimensions = [1, 2]
  %sm = linalg.generic {indexing_maps = [#m_id, #m_id, #m_id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%s, %mb : tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32>) outs(%e4 : tensor<2x2x8x16xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %x = arith.mulf %a, %scale : f32
    %y = arith.addf %x, %b : f32
    linalg.yield %y : f32
  } -> tensor<2x2x8x16xf32>
  %p = linalg.softmax dimension(3) ins(%sm : tensor<2x2x8x16xf32>) outs(%e4 : tensor<2x2x8x16xf32>) -> tensor<2x2x8x16xf32>
  %p3 = tensor.collapse_shape %p [[0, 1], [2], [3]] : tensor<2x2x8x16xf32> into tensor<4x8x16xf32>
  %eo = tensor.empty() : tensor<4x8x8xf32>
  %zo = linalg.fill ins(%c0 : f32) outs(%eo : tensor<4x8x8xf32>) -> tensor<4x8x8xf32>
  %o3 = linalg.batch_matmul ins(%p3, %v3 : tensor<4x8x16xf32>, tensor<4x16x8xf32>) outs(%zo : tensor<4x8x8xf32>) -> tensor<4x8x8xf32>
  %o = tensor.expand_shape %o3 [[0, 1], [2], [3]] output_shape [2, 2, 8, 8] : tensor<4x8x8xf32> into tensor<2x2x8x8xf32>
  return %o : tensor<2x2x8x8xf32>
}

// -----

// masked_fill(mask, -inf) with a boolean [B, 1, Lq, Lk] tensor: true hides.
#mf_id = affine_map<(b, h, i, j) -> (b, h, i, j)>
#mf_m = affine_map<(b, h, i, j) -> (b, 0, i, j)>
// CHECK-LABEL: func.func @masked_fill_bool(
// CHECK-SAME: %[[M:[^:]*]]: tensor<1x1x8x8xi1>
// CHECK: linalg.generic {{.*}} ins(%[[M]] : tensor<1x1x8x8xi1>)
// CHECK: arith.xori
// CHECK: %[[NOT:.*]] = tensor.expand_shape
// CHECK: flash.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%[[NOT]] : tensor<1x1x8x8xi1>) : tensor<1x2x8x8xf32>
// CHECK-NOT: linalg.softmax
// CHECK: return
func.func @masked_fill_bool(%q: tensor<1x2x8x8xf32>, %k: tensor<1x2x8x8xf32>, %v: tensor<1x2x8x8xf32>, %m: tensor<1x1x8x8xi1>) -> tensor<1x2x8x8xf32> {
  %c0 = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %scale = arith.constant 0.353553385 : f32
  %e = tensor.empty() : tensor<1x2x8x8xf32>
  %z = linalg.fill ins(%c0 : f32) outs(%e : tensor<1x2x8x8xf32>) -> tensor<1x2x8x8xf32>
  %s = linalg.generic {indexing_maps = [affine_map<(b, h, i, j, d) -> (b, h, i, d)>, affine_map<(b, h, i, j, d) -> (b, h, j, d)>, affine_map<(b, h, i, j, d) -> (b, h, i, j)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%q, %k : tensor<1x2x8x8xf32>, tensor<1x2x8x8xf32>) outs(%z : tensor<1x2x8x8xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %x = arith.mulf %a, %b : f32
    %y = arith.addf %acc, %x : f32
    linalg.yield %y : f32
  } -> tensor<1x2x8x8xf32>
  %sm = linalg.generic {indexing_maps = [#mf_id, #mf_m, #mf_id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%s, %m : tensor<1x2x8x8xf32>, tensor<1x1x8x8xi1>) outs(%e : tensor<1x2x8x8xf32>) {
  ^bb0(%a: f32, %b: i1, %o: f32):
    %x = arith.mulf %a, %scale : f32
    %y = arith.select %b, %ninf, %x : f32
    linalg.yield %y : f32
  } -> tensor<1x2x8x8xf32>
  %p = linalg.softmax dimension(3) ins(%sm : tensor<1x2x8x8xf32>) outs(%e : tensor<1x2x8x8xf32>) -> tensor<1x2x8x8xf32>
  %o = linalg.generic {indexing_maps = [affine_map<(b, h, i, e, j) -> (b, h, i, j)>, affine_map<(b, h, i, e, j) -> (b, h, j, e)>, affine_map<(b, h, i, e, j) -> (b, h, i, e)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%p, %v : tensor<1x2x8x8xf32>, tensor<1x2x8x8xf32>) outs(%z : tensor<1x2x8x8xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %x = arith.mulf %a, %b : f32
    %y = arith.addf %acc, %x : f32
    linalg.yield %y : f32
  } -> tensor<1x2x8x8xf32>
  return %o : tensor<1x2x8x8xf32>
}

// -----

// A causal mask from linalg.index comparisons, applied with a large negative
// constant (-1e9) rather than -inf: the fill is kept as masked_score, since
// rows that hide every key average V with it (and give 0 with -inf).
#c_id = affine_map<(b, h, i, j) -> (b, h, i, j)>
// CHECK-LABEL: func.func @causal_from_index(
// CHECK: flash.attention %{{.*}}, %{{.*}}, %{{.*}} {mask_kind = #flash.mask<causal>, masked_score = -1.000000e+09 : f32} : tensor<1x2x16x8xf32>
// CHECK-NOT: linalg.softmax
// CHECK: return
func.func @causal_from_index(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) -> tensor<1x2x16x8xf32> {
  %c0 = arith.constant 0.0 : f32
  %big = arith.constant -1.0e9 : f32
  %scale = arith.constant 0.353553385 : f32
  %e = tensor.empty() : tensor<1x2x16x16xf32>
  %z = linalg.fill ins(%c0 : f32) outs(%e : tensor<1x2x16x16xf32>) -> tensor<1x2x16x16xf32>
  %s = linalg.generic {indexing_maps = [affine_map<(b, h, i, j, d) -> (b, h, i, d)>, affine_map<(b, h, i, j, d) -> (b, h, j, d)>, affine_map<(b, h, i, j, d) -> (b, h, i, j)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%q, %k : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>) outs(%z : tensor<1x2x16x16xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %x = arith.mulf %a, %b : f32
    %y = arith.addf %acc, %x : f32
    linalg.yield %y : f32
  } -> tensor<1x2x16x16xf32>
  %sm = linalg.generic {indexing_maps = [#c_id, #c_id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%s : tensor<1x2x16x16xf32>) outs(%e : tensor<1x2x16x16xf32>) {
  ^bb0(%a: f32, %o: f32):
    %i = linalg.index 2 : index
    %j = linalg.index 3 : index
    %future = arith.cmpi sgt, %j, %i : index
    %x = arith.mulf %a, %scale : f32
    %y = arith.select %future, %big, %x : f32
    linalg.yield %y : f32
  } -> tensor<1x2x16x16xf32>
  %p = linalg.softmax dimension(3) ins(%sm : tensor<1x2x16x16xf32>) outs(%e : tensor<1x2x16x16xf32>) -> tensor<1x2x16x16xf32>
  %eo = tensor.empty() : tensor<1x2x16x8xf32>
  %zo = linalg.fill ins(%c0 : f32) outs(%eo : tensor<1x2x16x8xf32>) -> tensor<1x2x16x8xf32>
  %o = linalg.generic {indexing_maps = [affine_map<(b, h, i, e, j) -> (b, h, i, j)>, affine_map<(b, h, i, e, j) -> (b, h, j, e)>, affine_map<(b, h, i, e, j) -> (b, h, i, e)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%p, %v : tensor<1x2x16x16xf32>, tensor<1x2x16x8xf32>) outs(%zo : tensor<1x2x16x8xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %x = arith.mulf %a, %b : f32
    %y = arith.addf %acc, %x : f32
    linalg.yield %y : f32
  } -> tensor<1x2x16x8xf32>
  return %o : tensor<1x2x16x8xf32>
}

// -----

// A causal mask as a triangular additive constant (0 on and below the
// diagonal, -inf above), on 3-D [H, L, D] matmuls.
// CHECK-LABEL: func.func @causal_from_triangular_constant(
// CHECK: flash.attention %{{.*}}, %{{.*}}, %{{.*}} {mask_kind = #flash.mask<causal>} : tensor<1x2x4x8xf32>
// CHECK-NOT: arith.constant dense
// CHECK: return
func.func @causal_from_triangular_constant(%q: tensor<2x4x8xf32>, %k: tensor<2x4x8xf32>, %v: tensor<2x4x8xf32>) -> tensor<2x4x8xf32> {
  %c0 = arith.constant 0.0 : f32
  %tri = arith.constant dense<[[0.0, 0xFF800000, 0xFF800000, 0xFF800000], [0.0, 0.0, 0xFF800000, 0xFF800000], [0.0, 0.0, 0.0, 0xFF800000], [0.0, 0.0, 0.0, 0.0]]> : tensor<4x4xf32>
  %scale = arith.constant 0.353553385 : f32
  %e = tensor.empty() : tensor<2x4x4xf32>
  %z = linalg.fill ins(%c0 : f32) outs(%e : tensor<2x4x4xf32>) -> tensor<2x4x4xf32>
  %s = linalg.batch_matmul indexing_maps = [affine_map<(b, m, n, k) -> (b, m, k)>, affine_map<(b, m, n, k) -> (b, n, k)>, affine_map<(b, m, n, k) -> (b, m, n)>] ins(%q, %k : tensor<2x4x8xf32>, tensor<2x4x8xf32>) outs(%z : tensor<2x4x4xf32>) -> tensor<2x4x4xf32>
  %sm = linalg.generic {indexing_maps = [affine_map<(b, i, j) -> (b, i, j)>, affine_map<(b, i, j) -> (i, j)>, affine_map<(b, i, j) -> (b, i, j)>], iterator_types = ["parallel", "parallel", "parallel"]} ins(%s, %tri : tensor<2x4x4xf32>, tensor<4x4xf32>) outs(%e : tensor<2x4x4xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %x = arith.mulf %a, %scale : f32
    %y = arith.addf %x, %b : f32
    linalg.yield %y : f32
  } -> tensor<2x4x4xf32>
  %p = linalg.softmax dimension(2) ins(%sm : tensor<2x4x4xf32>) outs(%e : tensor<2x4x4xf32>) -> tensor<2x4x4xf32>
  %eo = tensor.empty() : tensor<2x4x8xf32>
  %zo = linalg.fill ins(%c0 : f32) outs(%eo : tensor<2x4x8xf32>) -> tensor<2x4x8xf32>
  %o = linalg.batch_matmul ins(%p, %v : tensor<2x4x4xf32>, tensor<2x4x8xf32>) outs(%zo : tensor<2x4x8xf32>) -> tensor<2x4x8xf32>
  return %o : tensor<2x4x8xf32>
}

// -----

// A sliding window (j <= i and j > i - 4) from index comparisons combined
// with andi, plus a general real-valued additive bias: the window becomes
// the mask kind, the bias the mask operand.
#w_id = affine_map<(h, i, j) -> (h, i, j)>
// CHECK-LABEL: func.func @window_and_bias(
// CHECK-SAME: %[[B:[^:]*]]: tensor<2x16x16xf32>
// CHECK: %[[B4:.*]] = tensor.expand_shape %[[B]] {{\[}}[0, 1], [2], [3]] output_shape [1, 2, 16, 16]
// CHECK: flash.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%[[B4]] : tensor<1x2x16x16xf32>) {mask_kind = #flash.mask<sliding_window>, scale = 1.000000e+00 : f32, window = array<i64: 3, 0>} : tensor<1x2x16x8xf32>
// CHECK-NOT: linalg.softmax
// CHECK: return
func.func @window_and_bias(%q: tensor<2x16x8xf32>, %k: tensor<2x16x8xf32>, %v: tensor<2x16x8xf32>, %bias: tensor<2x16x16xf32>) -> tensor<2x16x8xf32> {
  %c0 = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %c4 = arith.constant 4 : index
  %e = tensor.empty() : tensor<2x16x16xf32>
  %z = linalg.fill ins(%c0 : f32) outs(%e : tensor<2x16x16xf32>) -> tensor<2x16x16xf32>
  %s = linalg.batch_matmul indexing_maps = [affine_map<(b, m, n, k) -> (b, m, k)>, affine_map<(b, m, n, k) -> (b, n, k)>, affine_map<(b, m, n, k) -> (b, m, n)>] ins(%q, %k : tensor<2x16x8xf32>, tensor<2x16x8xf32>) outs(%z : tensor<2x16x16xf32>) -> tensor<2x16x16xf32>
  %sm = linalg.generic {indexing_maps = [#w_id, #w_id, #w_id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%s, %bias : tensor<2x16x16xf32>, tensor<2x16x16xf32>) outs(%e : tensor<2x16x16xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %i = linalg.index 1 : index
    %j = linalg.index 2 : index
    %lo = arith.subi %i, %c4 : index
    %past = arith.cmpi sle, %j, %i : index
    %near = arith.cmpi sgt, %j, %lo : index
    %vis = arith.andi %past, %near : i1
    %x = arith.addf %a, %b : f32
    %y = arith.select %vis, %x, %ninf : f32
    linalg.yield %y : f32
  } -> tensor<2x16x16xf32>
  %p = linalg.softmax dimension(2) ins(%sm : tensor<2x16x16xf32>) outs(%e : tensor<2x16x16xf32>) -> tensor<2x16x16xf32>
  %eo = tensor.empty() : tensor<2x16x8xf32>
  %zo = linalg.fill ins(%c0 : f32) outs(%eo : tensor<2x16x8xf32>) -> tensor<2x16x8xf32>
  %o = linalg.batch_matmul ins(%p, %v : tensor<2x16x16xf32>, tensor<2x16x8xf32>) outs(%zo : tensor<2x16x8xf32>) -> tensor<2x16x8xf32>
  return %o : tensor<2x16x8xf32>
}

// -----

// Negative: the causal select keeps the scores where j > i and writes a
// positive constant elsewhere: not a mask.
// CHECK-LABEL: func.func @neg_select_positive_fill(
// CHECK-NOT: flash.attention
// CHECK: linalg.softmax
func.func @neg_select_positive_fill(%q: tensor<2x16x8xf32>, %k: tensor<2x16x8xf32>, %v: tensor<2x16x8xf32>) -> tensor<2x16x8xf32> {
  %c0 = arith.constant 0.0 : f32
  %big = arith.constant 1.0e9 : f32
  %e = tensor.empty() : tensor<2x16x16xf32>
  %z = linalg.fill ins(%c0 : f32) outs(%e : tensor<2x16x16xf32>) -> tensor<2x16x16xf32>
  %s = linalg.batch_matmul indexing_maps = [affine_map<(b, m, n, k) -> (b, m, k)>, affine_map<(b, m, n, k) -> (b, n, k)>, affine_map<(b, m, n, k) -> (b, m, n)>] ins(%q, %k : tensor<2x16x8xf32>, tensor<2x16x8xf32>) outs(%z : tensor<2x16x16xf32>) -> tensor<2x16x16xf32>
  %sm = linalg.generic {indexing_maps = [affine_map<(h, i, j) -> (h, i, j)>, affine_map<(h, i, j) -> (h, i, j)>], iterator_types = ["parallel", "parallel", "parallel"]} ins(%s : tensor<2x16x16xf32>) outs(%e : tensor<2x16x16xf32>) {
  ^bb0(%a: f32, %o: f32):
    %i = linalg.index 1 : index
    %j = linalg.index 2 : index
    %vis = arith.cmpi sle, %j, %i : index
    %y = arith.select %vis, %a, %big : f32
    linalg.yield %y : f32
  } -> tensor<2x16x16xf32>
  %p = linalg.softmax dimension(2) ins(%sm : tensor<2x16x16xf32>) outs(%e : tensor<2x16x16xf32>) -> tensor<2x16x16xf32>
  %eo = tensor.empty() : tensor<2x16x8xf32>
  %zo = linalg.fill ins(%c0 : f32) outs(%eo : tensor<2x16x8xf32>) -> tensor<2x16x8xf32>
  %o = linalg.batch_matmul ins(%p, %v : tensor<2x16x16xf32>, tensor<2x16x8xf32>) outs(%zo : tensor<2x16x8xf32>) -> tensor<2x16x8xf32>
  return %o : tensor<2x16x8xf32>
}

// -----

// masked_fill(mask, -1e9) where the mask hides every key of some rows: those
// rows average V in the graph, so the raised op keeps the fill.
#mff_id = affine_map<(b, h, i, j) -> (b, h, i, j)>
#mff_m = affine_map<(b, h, i, j) -> (b, 0, i, j)>
// CHECK-LABEL: func.func @masked_fill_finite(
// CHECK: flash.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%{{.*}} : tensor<1x1x8x8xi1>) {masked_score = -1.000000e+09 : f32} : tensor<1x2x8x8xf32>
// CHECK-NOT: linalg.softmax
// CHECK: return
func.func @masked_fill_finite(%q: tensor<1x2x8x8xf32>, %k: tensor<1x2x8x8xf32>, %v: tensor<1x2x8x8xf32>, %m: tensor<1x1x8x8xi1>) -> tensor<1x2x8x8xf32> {
  %c0 = arith.constant 0.0 : f32
  %big = arith.constant -1.0e9 : f32
  %scale = arith.constant 0.353553385 : f32
  %e = tensor.empty() : tensor<1x2x8x8xf32>
  %z = linalg.fill ins(%c0 : f32) outs(%e : tensor<1x2x8x8xf32>) -> tensor<1x2x8x8xf32>
  %s = linalg.generic {indexing_maps = [affine_map<(b, h, i, j, d) -> (b, h, i, d)>, affine_map<(b, h, i, j, d) -> (b, h, j, d)>, affine_map<(b, h, i, j, d) -> (b, h, i, j)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%q, %k : tensor<1x2x8x8xf32>, tensor<1x2x8x8xf32>) outs(%z : tensor<1x2x8x8xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %x = arith.mulf %a, %b : f32
    %y = arith.addf %acc, %x : f32
    linalg.yield %y : f32
  } -> tensor<1x2x8x8xf32>
  %sm = linalg.generic {indexing_maps = [#mff_id, #mff_m, #mff_id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%s, %m : tensor<1x2x8x8xf32>, tensor<1x1x8x8xi1>) outs(%e : tensor<1x2x8x8xf32>) {
  ^bb0(%a: f32, %b: i1, %o: f32):
    %x = arith.mulf %a, %scale : f32
    %y = arith.select %b, %big, %x : f32
    linalg.yield %y : f32
  } -> tensor<1x2x8x8xf32>
  %p = linalg.softmax dimension(3) ins(%sm : tensor<1x2x8x8xf32>) outs(%e : tensor<1x2x8x8xf32>) -> tensor<1x2x8x8xf32>
  %o = linalg.generic {indexing_maps = [affine_map<(b, h, i, e, j) -> (b, h, i, j)>, affine_map<(b, h, i, e, j) -> (b, h, j, e)>, affine_map<(b, h, i, e, j) -> (b, h, i, e)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%p, %v : tensor<1x2x8x8xf32>, tensor<1x2x8x8xf32>) outs(%z : tensor<1x2x8x8xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %x = arith.mulf %a, %b : f32
    %y = arith.addf %acc, %x : f32
    linalg.yield %y : f32
  } -> tensor<1x2x8x8xf32>
  return %o : tensor<1x2x8x8xf32>
}

// -----

// Bottom-right causal with Lq = 16 > Lk = 8 from linalg.index, filled with
// finfo(f32).min: rows 0-7 see no key and average V in the graph.
#brf_id = affine_map<(b, h, i, j) -> (b, h, i, j)>
// CHECK-LABEL: func.func @causal_bottom_right_finite(
// CHECK: flash.attention %{{.*}}, %{{.*}}, %{{.*}} {mask_kind = #flash.mask<causal_bottom_right>, masked_score = -3.40282347E+38 : f32} : tensor<1x2x16x8xf32>
// CHECK-NOT: linalg.softmax
// CHECK: return
func.func @causal_bottom_right_finite(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x8x8xf32>, %v: tensor<1x2x8x8xf32>) -> tensor<1x2x16x8xf32> {
  %c0 = arith.constant 0.0 : f32
  %c8 = arith.constant 8 : index
  %lowest = arith.constant -3.40282347E+38 : f32
  %scale = arith.constant 0.353553385 : f32
  %e = tensor.empty() : tensor<1x2x16x8xf32>
  %z = linalg.fill ins(%c0 : f32) outs(%e : tensor<1x2x16x8xf32>) -> tensor<1x2x16x8xf32>
  %s = linalg.generic {indexing_maps = [affine_map<(b, h, i, j, d) -> (b, h, i, d)>, affine_map<(b, h, i, j, d) -> (b, h, j, d)>, affine_map<(b, h, i, j, d) -> (b, h, i, j)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%q, %k : tensor<1x2x16x8xf32>, tensor<1x2x8x8xf32>) outs(%z : tensor<1x2x16x8xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %x = arith.mulf %a, %b : f32
    %y = arith.addf %acc, %x : f32
    linalg.yield %y : f32
  } -> tensor<1x2x16x8xf32>
  %sm = linalg.generic {indexing_maps = [#brf_id, #brf_id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%s : tensor<1x2x16x8xf32>) outs(%e : tensor<1x2x16x8xf32>) {
  ^bb0(%a: f32, %o: f32):
    %i = linalg.index 2 : index
    %j = linalg.index 3 : index
    %j8 = arith.addi %j, %c8 : index
    %future = arith.cmpi sgt, %j8, %i : index
    %x = arith.mulf %a, %scale : f32
    %y = arith.select %future, %lowest, %x : f32
    linalg.yield %y : f32
  } -> tensor<1x2x16x8xf32>
  %p = linalg.softmax dimension(3) ins(%sm : tensor<1x2x16x8xf32>) outs(%e : tensor<1x2x16x8xf32>) -> tensor<1x2x16x8xf32>
  %o = linalg.generic {indexing_maps = [affine_map<(b, h, i, e, j) -> (b, h, i, j)>, affine_map<(b, h, i, e, j) -> (b, h, j, e)>, affine_map<(b, h, i, e, j) -> (b, h, i, e)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%p, %v : tensor<1x2x16x8xf32>, tensor<1x2x8x8xf32>) outs(%z : tensor<1x2x16x8xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %x = arith.mulf %a, %b : f32
    %y = arith.addf %acc, %x : f32
    linalg.yield %y : f32
  } -> tensor<1x2x16x8xf32>
  return %o : tensor<1x2x16x8xf32>
}

// -----

// An additive mask select(keep, 0, -1e4) read from a tensor: the graph adds
// -1e4 to the hidden scores (it does not replace them), so the tensor stays
// an additive mask operand instead of becoming a boolean mask.
#af_id = affine_map<(b, h, i, j) -> (b, h, i, j)>
#af_m = affine_map<(b, h, i, j) -> (b, 0, i, j)>
// CHECK-LABEL: func.func @additive_finite_select(
// CHECK: %[[BIAS:.*]] = linalg.generic
// CHECK: flash.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%{{.*}} : tensor<1x1x8x8xf32>) : tensor<1x2x8x8xf32>
// CHECK-NOT: linalg.softmax
// CHECK: return
func.func @additive_finite_select(%q: tensor<1x2x8x8xf32>, %k: tensor<1x2x8x8xf32>, %v: tensor<1x2x8x8xf32>, %keep: tensor<1x1x8x8xi1>) -> tensor<1x2x8x8xf32> {
  %c0 = arith.constant 0.0 : f32
  %low = arith.constant -1.0e4 : f32
  %scale = arith.constant 0.353553385 : f32
  %eb = tensor.empty() : tensor<1x1x8x8xf32>
  %bias = linalg.generic {indexing_maps = [#af_id, #af_id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%keep : tensor<1x1x8x8xi1>) outs(%eb : tensor<1x1x8x8xf32>) {
  ^bb0(%b: i1, %o: f32):
    %y = arith.select %b, %c0, %low : f32
    linalg.yield %y : f32
  } -> tensor<1x1x8x8xf32>
  %e = tensor.empty() : tensor<1x2x8x8xf32>
  %z = linalg.fill ins(%c0 : f32) outs(%e : tensor<1x2x8x8xf32>) -> tensor<1x2x8x8xf32>
  %s = linalg.generic {indexing_maps = [affine_map<(b, h, i, j, d) -> (b, h, i, d)>, affine_map<(b, h, i, j, d) -> (b, h, j, d)>, affine_map<(b, h, i, j, d) -> (b, h, i, j)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%q, %k : tensor<1x2x8x8xf32>, tensor<1x2x8x8xf32>) outs(%z : tensor<1x2x8x8xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %x = arith.mulf %a, %b : f32
    %y = arith.addf %acc, %x : f32
    linalg.yield %y : f32
  } -> tensor<1x2x8x8xf32>
  %sm = linalg.generic {indexing_maps = [#af_id, #af_m, #af_id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%s, %bias : tensor<1x2x8x8xf32>, tensor<1x1x8x8xf32>) outs(%e : tensor<1x2x8x8xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %x = arith.mulf %a, %scale : f32
    %y = arith.addf %x, %b : f32
    linalg.yield %y : f32
  } -> tensor<1x2x8x8xf32>
  %p = linalg.softmax dimension(3) ins(%sm : tensor<1x2x8x8xf32>) outs(%e : tensor<1x2x8x8xf32>) -> tensor<1x2x8x8xf32>
  %o = linalg.generic {indexing_maps = [affine_map<(b, h, i, e, j) -> (b, h, i, j)>, affine_map<(b, h, i, e, j) -> (b, h, j, e)>, affine_map<(b, h, i, e, j) -> (b, h, i, e)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%p, %v : tensor<1x2x8x8xf32>, tensor<1x2x8x8xf32>) outs(%z : tensor<1x2x8x8xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %x = arith.mulf %a, %b : f32
    %y = arith.addf %acc, %x : f32
    linalg.yield %y : f32
  } -> tensor<1x2x8x8xf32>
  return %o : tensor<1x2x8x8xf32>
}
