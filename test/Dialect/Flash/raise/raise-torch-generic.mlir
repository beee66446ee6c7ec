// RUN: flash-opt %s --flash-raise-attention --split-input-file | FileCheck %s

// torch-mlir's linalg-on-tensors spelling: a transpose generic, collapsed
// [B*H, L, D] batch matmuls, keepdim (d0, d1, d2, 0) reductions, and the
// softmax as max / sub-exp / sum / div generics.
#t4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#t4t = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3, d2)>
#tred = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, 0)>
// CHECK-LABEL: func.func @torch_sdpa(
// CHECK-SAME: %[[Q:[^:]*]]: tensor<2x4x64x32xf32>, %[[K:[^:]*]]: tensor<2x4x48x32xf32>, %[[V:[^:]*]]: tensor<2x4x48x32xf32>
// CHECK-NEXT: %[[O:.*]] = flash.attention %[[Q]], %[[K]], %[[V]] {scale = 1.250000e-01 : f32} : tensor<2x4x64x32xf32>, tensor<2x4x48x32xf32>, tensor<2x4x48x32xf32> -> tensor<2x4x64x32xf32>
// CHECK-NEXT: return %[[O]]
func.func @torch_sdpa(%q: tensor<2x4x64x32xf32>, %k: tensor<2x4x48x32xf32>, %v: tensor<2x4x48x32xf32>) -> tensor<2x4x64x32xf32> {
  %cst = arith.constant 0.000000e+00 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %scale = arith.constant 1.250000e-01 : f32
  %e0 = tensor.empty() : tensor<2x4x32x48xf32>
  %kt = linalg.generic {indexing_maps = [#t4t, #t4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%k : tensor<2x4x48x32xf32>) outs(%e0 : tensor<2x4x32x48xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  } -> tensor<2x4x32x48xf32>
  %q3 = tensor.collapse_shape %q [[0, 1], [2], [3]] : tensor<2x4x64x32xf32> into tensor<8x64x32xf32>
  %kt3 = tensor.collapse_shape %kt [[0, 1], [2], [3]] : tensor<2x4x32x48xf32> into tensor<8x32x48xf32>
  %e1 = tensor.empty() : tensor<8x64x48xf32>
  %z1 = linalg.fill ins(%cst : f32) outs(%e1 : tensor<8x64x48xf32>) -> tensor<8x64x48xf32>
  %s3 = linalg.batch_matmul ins(%q3, %kt3 : tensor<8x64x32xf32>, tensor<8x32x48xf32>) outs(%z1 : tensor<8x64x48xf32>) -> tensor<8x64x48xf32>
  %s = tensor.expand_shape %s3 [[0, 1], [2], [3]] output_shape [2, 4, 64, 48] : tensor<8x64x48xf32> into tensor<2x4x64x48xf32>
  %e2 = tensor.empty() : tensor<2x4x64x48xf32>
  %ss = linalg.generic {indexing_maps = [#t4, #t4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%s : tensor<2x4x64x48xf32>) outs(%e2 : tensor<2x4x64x48xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = arith.mulf %in, %scale : f32
    linalg.yield %m : f32
  } -> tensor<2x4x64x48xf32>
  %e3 = tensor.empty() : tensor<2x4x64x1xf32>
  %mi = linalg.fill ins(%ninf : f32) outs(%e3 : tensor<2x4x64x1xf32>) -> tensor<2x4x64x1xf32>
  %mx = linalg.generic {indexing_maps = [#t4, #tred], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%ss : tensor<2x4x64x48xf32>) outs(%mi : tensor<2x4x64x1xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.maximumf %in, %out : f32
    linalg.yield %r : f32
  } -> tensor<2x4x64x1xf32>
  %ex = linalg.generic {indexing_maps = [#t4, #tred, #t4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%ss, %mx : tensor<2x4x64x48xf32>, tensor<2x4x64x1xf32>) outs(%e2 : tensor<2x4x64x48xf32>) {
  ^bb0(%in: f32, %in1: f32, %out: f32):
    %d = arith.subf %in, %in1 : f32
    %x = math.exp %d : f32
    linalg.yield %x : f32
  } -> tensor<2x4x64x48xf32>
  %zi = linalg.fill ins(%cst : f32) outs(%e3 : tensor<2x4x64x1xf32>) -> tensor<2x4x64x1xf32>
  %sm = linalg.generic {indexing_maps = [#t4, #tred], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%ex : tensor<2x4x64x48xf32>) outs(%zi : tensor<2x4x64x1xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.addf %in, %out : f32
    linalg.yield %r : f32
  } -> tensor<2x4x64x1xf32>
  %p = linalg.generic {indexing_maps = [#t4, #tred, #t4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%ex, %sm : tensor<2x4x64x48xf32>, tensor<2x4x64x1xf32>) outs(%e2 : tensor<2x4x64x48xf32>) {
  ^bb0(%in: f32, %in1: f32, %out: f32):
    %d = arith.divf %in, %in1 : f32
    linalg.yield %d : f32
  } -> tensor<2x4x64x48xf32>
  %p3 = tensor.collapse_shape %p [[0, 1], [2], [3]] : tensor<2x4x64x48xf32> into tensor<8x64x48xf32>
  %v3 = tensor.collapse_shape %v [[0, 1], [2], [3]] : tensor<2x4x48x32xf32> into tensor<8x48x32xf32>
  %e4 = tensor.empty() : tensor<8x64x32xf32>
  %z4 = linalg.fill ins(%cst : f32) outs(%e4 : tensor<8x64x32xf32>) -> tensor<8x64x32xf32>
  %o3 = linalg.batch_matmul ins(%p3, %v3 : tensor<8x64x48xf32>, tensor<8x48x32xf32>) outs(%z4 : tensor<8x64x32xf32>) -> tensor<8x64x32xf32>
  %o = tensor.expand_shape %o3 [[0, 1], [2], [3]] output_shape [2, 4, 64, 32] : tensor<8x64x32xf32> into tensor<2x4x64x32xf32>
  return %o : tensor<2x4x64x32xf32>
}

// -----

// Contractions written as 4-D generics, the scale applied to K, the
// softmax normalized by multiplying with a reciprocal, f16 inputs with an
// f32 softmax (extf in the contraction, truncf before P·V), and the output
// in the [B, L, H, D] layout (the transpose after P·V in a generic).
#g_q = affine_map<(b, h, i, j, d) -> (b, h, i, d)>
#g_k = affine_map<(b, h, i, j, d) -> (b, h, j, d)>
#g_s = affine_map<(b, h, i, j, d) -> (b, h, i, j)>
#g_p = affine_map<(b, h, i, e, j) -> (b, h, i, j)>
#g_v = affine_map<(b, h, i, e, j) -> (b, h, j, e)>
#g_o = affine_map<(b, h, i, e, j) -> (b, i, h, e)>
#g_id = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#g_red = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, 0)>
// CHECK-LABEL: func.func @generic_contractions_reciprocal_f16(
// CHECK-SAME: %[[Q:[^:]*]]: tensor<1x2x16x8xf16>, %[[K:[^:]*]]: tensor<1x2x24x8xf16>, %[[V:[^:]*]]: tensor<1x2x24x8xf16>
// CHECK: %[[O:.*]] = flash.attention %[[Q]], %[[K]], %[[V]] {scale = 5.000000e-01 : f32} : tensor<1x2x16x8xf16>, tensor<1x2x24x8xf16>, tensor<1x2x24x8xf16> -> tensor<1x2x16x8xf16>
// CHECK: linalg.generic {{.*}} ins(%[[O]] : tensor<1x2x16x8xf16>) outs(%{{.*}} : tensor<16x2x8xf32>)
// CHECK: arith.extf
// CHECK: %[[T:.*]] = tensor.expand_shape {{.*}} into tensor<1x16x2x8xf32>
// CHECK-NOT: math.exp
// CHECK: return %[[T]]
func.func @generic_contractions_reciprocal_f16(%q: tensor<1x2x16x8xf16>, %k: tensor<1x2x24x8xf16>, %v: tensor<1x2x24x8xf16>) -> tensor<1x16x2x8xf32> {
  %cst = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %ninf = arith.constant -3.40282347E+38 : f32
  %half = arith.constant 0.5 : f16
  %ek = tensor.empty() : tensor<1x2x24x8xf16>
  %ks = linalg.generic {indexing_maps = [#g_id, #g_id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%k : tensor<1x2x24x8xf16>) outs(%ek : tensor<1x2x24x8xf16>) {
  ^bb0(%in: f16, %out: f16):
    %m = arith.mulf %in, %half : f16
    linalg.yield %m : f16
  } -> tensor<1x2x24x8xf16>
  %es = tensor.empty() : tensor<1x2x16x24xf32>
  %zs = linalg.fill ins(%cst : f32) outs(%es : tensor<1x2x16x24xf32>) -> tensor<1x2x16x24xf32>
  %s = linalg.generic {indexing_maps = [#g_q, #g_k, #g_s], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%q, %ks : tensor<1x2x16x8xf16>, tensor<1x2x24x8xf16>) outs(%zs : tensor<1x2x16x24xf32>) {
  ^bb0(%a: f16, %b: f16, %acc: f32):
    %af = arith.extf %a : f16 to f32
    %bf = arith.extf %b : f16 to f32
    %m = arith.mulf %af, %bf : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> tensor<1x2x16x24xf32>
  %er = tensor.empty() : tensor<1x2x16x1xf32>
  %mi = linalg.fill ins(%ninf : f32) outs(%er : tensor<1x2x16x1xf32>) -> tensor<1x2x16x1xf32>
  %mx = linalg.generic {indexing_maps = [#g_id, #g_red], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%s : tensor<1x2x16x24xf32>) outs(%mi : tensor<1x2x16x1xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.maxnumf %out, %in : f32
    linalg.yield %r : f32
  } -> tensor<1x2x16x1xf32>
  %ex = linalg.generic {indexing_maps = [#g_id, #g_red, #g_id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%s, %mx : tensor<1x2x16x24xf32>, tensor<1x2x16x1xf32>) outs(%es : tensor<1x2x16x24xf32>) {
  ^bb0(%in: f32, %in1: f32, %out: f32):
    %d = arith.subf %in, %in1 : f32
    %x = math.exp %d : f32
    linalg.yield %x : f32
  } -> tensor<1x2x16x24xf32>
  %zi = linalg.fill ins(%cst : f32) outs(%er : tensor<1x2x16x1xf32>) -> tensor<1x2x16x1xf32>
  %sm = linalg.generic {indexing_maps = [#g_id, #g_red], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%ex : tensor<1x2x16x24xf32>) outs(%zi : tensor<1x2x16x1xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.addf %in, %out : f32
    linalg.yield %r : f32
  } -> tensor<1x2x16x1xf32>
  %rc = linalg.generic {indexing_maps = [#g_id, #g_id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%sm : tensor<1x2x16x1xf32>) outs(%er : tensor<1x2x16x1xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.divf %one, %in : f32
    linalg.yield %r : f32
  } -> tensor<1x2x16x1xf32>
  %eh = tensor.empty() : tensor<1x2x16x24xf16>
  %p = linalg.generic {indexing_maps = [#g_id, #g_red, #g_id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%ex, %rc : tensor<1x2x16x24xf32>, tensor<1x2x16x1xf32>) outs(%eh : tensor<1x2x16x24xf16>) {
  ^bb0(%in: f32, %in1: f32, %out: f16):
    %d = arith.mulf %in, %in1 : f32
    %t = arith.truncf %d : f32 to f16
    linalg.yield %t : f16
  } -> tensor<1x2x16x24xf16>
  %eo = tensor.empty() : tensor<1x16x2x8xf32>
  %zo = linalg.fill ins(%cst : f32) outs(%eo : tensor<1x16x2x8xf32>) -> tensor<1x16x2x8xf32>
  %o = linalg.generic {indexing_maps = [#g_p, #g_v, #g_o], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%p, %v : tensor<1x2x16x24xf16>, tensor<1x2x24x8xf16>) outs(%zo : tensor<1x16x2x8xf32>) {
  ^bb0(%a: f16, %b: f16, %acc: f32):
    %af = arith.extf %a : f16 to f32
    %bf = arith.extf %b : f16 to f32
    %m = arith.mulf %af, %bf : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> tensor<1x16x2x8xf32>
  return %o : tensor<1x16x2x8xf32>
}

// -----

// One fused generic: softmax in a single body with the normalization after
// P·V (out = (Σ exp(s - m) v) / Σ exp(s - m)), the scale as a division by
// sqrt(d) inside the score generic.
#f_q = affine_map<(h, i, j, d) -> (h, i, d)>
#f_k = affine_map<(h, i, j, d) -> (h, j, d)>
#f_s = affine_map<(h, i, j, d) -> (h, i, j)>
#f_id = affine_map<(h, i, j) -> (h, i, j)>
#f_row = affine_map<(h, i, j) -> (h, i)>
#f_p = affine_map<(h, i, e, j) -> (h, i, j)>
#f_v = affine_map<(h, i, e, j) -> (h, j, e)>
#f_o = affine_map<(h, i, e, j) -> (h, i, e)>
#f_o3 = affine_map<(h, i, e) -> (h, i, e)>
#f_r3 = affine_map<(h, i, e) -> (h, i)>
// CHECK-LABEL: func.func @post_normalized_div_sqrt(
// CHECK: flash.attention %{{.*}}, %{{.*}}, %{{.*}} : tensor<1x3x16x16xf32>, tensor<1x3x16x16xf32>, tensor<1x3x16x16xf32> -> tensor<1x3x16x16xf32>
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @post_normalized_div_sqrt(%q: tensor<3x16x16xf32>, %k: tensor<3x16x16xf32>, %v: tensor<3x16x16xf32>) -> tensor<3x16x16xf32> {
  %cst = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %sqrtd = arith.constant 4.0 : f32
  %es = tensor.empty() : tensor<3x16x16xf32>
  %zs = linalg.fill ins(%cst : f32) outs(%es : tensor<3x16x16xf32>) -> tensor<3x16x16xf32>
  %s = linalg.generic {indexing_maps = [#f_q, #f_k, #f_s], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%q, %k : tensor<3x16x16xf32>, tensor<3x16x16xf32>) outs(%zs : tensor<3x16x16xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> tensor<3x16x16xf32>
  %ss = linalg.generic {indexing_maps = [#f_id, #f_id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%s : tensor<3x16x16xf32>) outs(%es : tensor<3x16x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %d = arith.divf %in, %sqrtd : f32
    linalg.yield %d : f32
  } -> tensor<3x16x16xf32>
  %er = tensor.empty() : tensor<3x16xf32>
  %mi = linalg.fill ins(%ninf : f32) outs(%er : tensor<3x16xf32>) -> tensor<3x16xf32>
  %mx = linalg.generic {indexing_maps = [#f_id, #f_row], iterator_types = ["parallel", "parallel", "reduction"]} ins(%ss : tensor<3x16x16xf32>) outs(%mi : tensor<3x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.maximumf %in, %out : f32
    linalg.yield %r : f32
  } -> tensor<3x16xf32>
  %ex = linalg.generic {indexing_maps = [#f_id, #f_row, #f_id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%ss, %mx : tensor<3x16x16xf32>, tensor<3x16xf32>) outs(%es : tensor<3x16x16xf32>) {
  ^bb0(%in: f32, %in1: f32, %out: f32):
    %d = arith.subf %in, %in1 : f32
    %x = math.exp %d : f32
    linalg.yield %x : f32
  } -> tensor<3x16x16xf32>
  %zi = linalg.fill ins(%cst : f32) outs(%er : tensor<3x16xf32>) -> tensor<3x16xf32>
  %sm = linalg.generic {indexing_maps = [#f_id, #f_row], iterator_types = ["parallel", "parallel", "reduction"]} ins(%ex : tensor<3x16x16xf32>) outs(%zi : tensor<3x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.addf %in, %out : f32
    linalg.yield %r : f32
  } -> tensor<3x16xf32>
  %acc = linalg.generic {indexing_maps = [#f_p, #f_v, #f_o], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%ex, %v : tensor<3x16x16xf32>, tensor<3x16x16xf32>) outs(%zs : tensor<3x16x16xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %c, %m : f32
    linalg.yield %r : f32
  } -> tensor<3x16x16xf32>
  %o = linalg.generic {indexing_maps = [#f_o3, #f_r3, #f_o3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%acc, %sm : tensor<3x16x16xf32>, tensor<3x16xf32>) outs(%es : tensor<3x16x16xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %d = arith.divf %a, %b : f32
    linalg.yield %d : f32
  } -> tensor<3x16x16xf32>
  return %o : tensor<3x16x16xf32>
}
