// RUN: flash-opt %s --flash-raise-attention --split-input-file | FileCheck %s

// Near-misses of the torch-mlir spelling that must be left alone.

// The scores are also returned: nothing may be raised.
#t4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#t4t = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3, d2)>
#tred = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, 0)>
// CHECK-LABEL: func.func @neg_scores_used_elsewhere(
// CHECK-NOT: flash.attention
// CHECK: math.exp
func.func @neg_scores_used_elsewhere(%q: tensor<2x4x64x32xf32>, %k: tensor<2x4x48x32xf32>, %v: tensor<2x4x48x32xf32>) -> (tensor<2x4x64x32xf32>, tensor<2x4x64x48xf32>) {
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
  return %o, %ss : tensor<2x4x64x32xf32>, tensor<2x4x64x48xf32>
}


// -----

// The probabilities are also returned.
#t4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#t4t = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3, d2)>
#tred = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, 0)>
// CHECK-LABEL: func.func @neg_probs_used_elsewhere(
// CHECK-NOT: flash.attention
// CHECK: math.exp
func.func @neg_probs_used_elsewhere(%q: tensor<2x4x64x32xf32>, %k: tensor<2x4x48x32xf32>, %v: tensor<2x4x48x32xf32>) -> (tensor<2x4x64x32xf32>, tensor<2x4x64x48xf32>) {
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
  return %o, %p : tensor<2x4x64x32xf32>, tensor<2x4x64x48xf32>
}


// -----

// exp(s - max) times V, never divided by the row sum.
#t4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#t4t = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3, d2)>
#tred = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, 0)>
// CHECK-LABEL: func.func @neg_exp_without_normalization(
// CHECK-NOT: flash.attention
// CHECK: math.exp
func.func @neg_exp_without_normalization(%q: tensor<2x4x64x32xf32>, %k: tensor<2x4x48x32xf32>, %v: tensor<2x4x48x32xf32>) -> tensor<2x4x64x32xf32> {
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
  %p3 = tensor.collapse_shape %ex [[0, 1], [2], [3]] : tensor<2x4x64x48xf32> into tensor<8x64x48xf32>
  %v3 = tensor.collapse_shape %v [[0, 1], [2], [3]] : tensor<2x4x48x32xf32> into tensor<8x48x32xf32>
  %e4 = tensor.empty() : tensor<8x64x32xf32>
  %z4 = linalg.fill ins(%cst : f32) outs(%e4 : tensor<8x64x32xf32>) -> tensor<8x64x32xf32>
  %o3 = linalg.batch_matmul ins(%p3, %v3 : tensor<8x64x48xf32>, tensor<8x48x32xf32>) outs(%z4 : tensor<8x64x32xf32>) -> tensor<8x64x32xf32>
  %o = tensor.expand_shape %o3 [[0, 1], [2], [3]] output_shape [2, 4, 64, 32] : tensor<8x64x32xf32> into tensor<2x4x64x32xf32>
  return %o : tensor<2x4x64x32xf32>
}


// -----

// The scores are multiplied by a runtime value.
#t4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#t4t = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3, d2)>
#tred = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, 0)>
// CHECK-LABEL: func.func @neg_scale_not_constant(
// CHECK-NOT: flash.attention
// CHECK: math.exp
func.func @neg_scale_not_constant(%q: tensor<2x4x64x32xf32>, %k: tensor<2x4x48x32xf32>, %v: tensor<2x4x48x32xf32>, %scale: f32) -> tensor<2x4x64x32xf32> {
  %cst = arith.constant 0.000000e+00 : f32
  %ninf = arith.constant 0xFF800000 : f32
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

// The exponent subtracts the row maximum of the unscaled scores.
#t4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#t4t = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3, d2)>
#tred = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, 0)>
// CHECK-LABEL: func.func @neg_max_of_other_scores(
// CHECK-NOT: flash.attention
// CHECK: math.exp
func.func @neg_max_of_other_scores(%q: tensor<2x4x64x32xf32>, %k: tensor<2x4x48x32xf32>, %v: tensor<2x4x48x32xf32>) -> tensor<2x4x64x32xf32> {
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
  %mx = linalg.generic {indexing_maps = [#t4, #tred], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%s : tensor<2x4x64x48xf32>) outs(%mi : tensor<2x4x64x1xf32>) {
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

// A select on the scores that writes 0, not -inf.
#t4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#t4t = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3, d2)>
#tred = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, 0)>
// CHECK-LABEL: func.func @neg_select_not_a_mask(
// CHECK-NOT: flash.attention
// CHECK: math.exp
func.func @neg_select_not_a_mask(%q: tensor<2x4x64x32xf32>, %k: tensor<2x4x48x32xf32>, %v: tensor<2x4x48x32xf32>) -> tensor<2x4x64x32xf32> {
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
    %i = linalg.index 2 : index
    %j = linalg.index 3 : index
    %c = arith.cmpi sle, %j, %i : index
    %y = arith.select %c, %m, %cst : f32
    linalg.yield %y : f32
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

// An additive mask added before the scale (the mask would be scaled too).
#t4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#t4t = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3, d2)>
#tred = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, 0)>
// CHECK-LABEL: func.func @neg_mask_scaled(
// CHECK-NOT: flash.attention
// CHECK: math.exp
func.func @neg_mask_scaled(%q: tensor<2x4x64x32xf32>, %k: tensor<2x4x48x32xf32>, %v: tensor<2x4x48x32xf32>, %mask: tensor<2x4x64x48xf32>) -> tensor<2x4x64x32xf32> {
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
  %ss = linalg.generic {indexing_maps = [#t4, #t4, #t4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%s, %mask : tensor<2x4x64x48xf32>, tensor<2x4x64x48xf32>) outs(%e2 : tensor<2x4x64x48xf32>) {
  ^bb0(%in: f32, %mk: f32, %out: f32):
    %a = arith.addf %in, %mk : f32
    %m = arith.mulf %a, %scale : f32
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

// Two selects that give hidden scores different values (-inf and -1e9):
// flash.attention gives every hidden key one score, so nothing is raised.
#mx_id = affine_map<(b, h, i, j) -> (b, h, i, j)>
#mx_m = affine_map<(b, h, i, j) -> (b, 0, i, j)>
// CHECK-LABEL: func.func @neg_mixed_fills(
// CHECK-NOT: flash.attention
// CHECK: linalg.softmax
func.func @neg_mixed_fills(%q: tensor<1x2x8x8xf32>, %k: tensor<1x2x8x8xf32>, %v: tensor<1x2x8x8xf32>, %m: tensor<1x1x8x8xi1>) -> tensor<1x2x8x8xf32> {
  %c0 = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %big = arith.constant -1.0e9 : f32
  %e = tensor.empty() : tensor<1x2x8x8xf32>
  %z = linalg.fill ins(%c0 : f32) outs(%e : tensor<1x2x8x8xf32>) -> tensor<1x2x8x8xf32>
  %s = linalg.generic {indexing_maps = [affine_map<(b, h, i, j, d) -> (b, h, i, d)>, affine_map<(b, h, i, j, d) -> (b, h, j, d)>, affine_map<(b, h, i, j, d) -> (b, h, i, j)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%q, %k : tensor<1x2x8x8xf32>, tensor<1x2x8x8xf32>) outs(%z : tensor<1x2x8x8xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %x = arith.mulf %a, %b : f32
    %y = arith.addf %acc, %x : f32
    linalg.yield %y : f32
  } -> tensor<1x2x8x8xf32>
  %sm = linalg.generic {indexing_maps = [#mx_id, #mx_m, #mx_id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%s, %m : tensor<1x2x8x8xf32>, tensor<1x1x8x8xi1>) outs(%e : tensor<1x2x8x8xf32>) {
  ^bb0(%a: f32, %b: i1, %o: f32):
    %i = linalg.index 2 : index
    %j = linalg.index 3 : index
    %future = arith.cmpi sgt, %j, %i : index
    %x = arith.select %b, %ninf, %a : f32
    %y = arith.select %future, %big, %x : f32
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

// A finite fill over scores that an additive bias tensor also shifts: the
// hidden keys take -1e9, the others keep their bias; flash.attention applies
// the bias before hiding, so nothing is raised.
#fb_id = affine_map<(b, h, i, j) -> (b, h, i, j)>
#fb_m = affine_map<(b, h, i, j) -> (b, 0, i, j)>
// CHECK-LABEL: func.func @neg_fill_and_bias(
// CHECK-NOT: flash.attention
// CHECK: linalg.softmax
func.func @neg_fill_and_bias(%q: tensor<1x2x8x8xf32>, %k: tensor<1x2x8x8xf32>, %v: tensor<1x2x8x8xf32>, %m: tensor<1x1x8x8xi1>, %bias: tensor<1x1x8x8xf32>) -> tensor<1x2x8x8xf32> {
  %c0 = arith.constant 0.0 : f32
  %big = arith.constant -1.0e9 : f32
  %e = tensor.empty() : tensor<1x2x8x8xf32>
  %z = linalg.fill ins(%c0 : f32) outs(%e : tensor<1x2x8x8xf32>) -> tensor<1x2x8x8xf32>
  %s = linalg.generic {indexing_maps = [affine_map<(b, h, i, j, d) -> (b, h, i, d)>, affine_map<(b, h, i, j, d) -> (b, h, j, d)>, affine_map<(b, h, i, j, d) -> (b, h, i, j)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%q, %k : tensor<1x2x8x8xf32>, tensor<1x2x8x8xf32>) outs(%z : tensor<1x2x8x8xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %x = arith.mulf %a, %b : f32
    %y = arith.addf %acc, %x : f32
    linalg.yield %y : f32
  } -> tensor<1x2x8x8xf32>
  %sm = linalg.generic {indexing_maps = [#fb_id, #fb_m, #fb_m, #fb_id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%s, %m, %bias : tensor<1x2x8x8xf32>, tensor<1x1x8x8xi1>, tensor<1x1x8x8xf32>) outs(%e : tensor<1x2x8x8xf32>) {
  ^bb0(%a: f32, %b: i1, %c: f32, %o: f32):
    %x = arith.addf %a, %c : f32
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

// A row maximum that starts at -1e4: where every score is below it, the
// graph's exponentials underflow (0 / 0), unlike a softmax; not raised.
#mi4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#mi4r = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, 0)>
// CHECK-LABEL: func.func @neg_max_starts_high(
// CHECK-NOT: flash.attention
// CHECK: math.exp
func.func @neg_max_starts_high(%q: tensor<1x2x8x8xf32>, %k: tensor<1x2x8x8xf32>, %v: tensor<1x2x8x8xf32>) -> tensor<1x2x8x8xf32> {
  %c0 = arith.constant 0.0 : f32
  %start = arith.constant -1.0e4 : f32
  %e = tensor.empty() : tensor<1x2x8x8xf32>
  %z = linalg.fill ins(%c0 : f32) outs(%e : tensor<1x2x8x8xf32>) -> tensor<1x2x8x8xf32>
  %s = linalg.generic {indexing_maps = [affine_map<(b, h, i, j, d) -> (b, h, i, d)>, affine_map<(b, h, i, j, d) -> (b, h, j, d)>, affine_map<(b, h, i, j, d) -> (b, h, i, j)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%q, %k : tensor<1x2x8x8xf32>, tensor<1x2x8x8xf32>) outs(%z : tensor<1x2x8x8xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %x = arith.mulf %a, %b : f32
    %y = arith.addf %acc, %x : f32
    linalg.yield %y : f32
  } -> tensor<1x2x8x8xf32>
  %e1 = tensor.empty() : tensor<1x2x8x1xf32>
  %mi = linalg.fill ins(%start : f32) outs(%e1 : tensor<1x2x8x1xf32>) -> tensor<1x2x8x1xf32>
  %mx = linalg.generic {indexing_maps = [#mi4, #mi4r], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%s : tensor<1x2x8x8xf32>) outs(%mi : tensor<1x2x8x1xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.maximumf %in, %out : f32
    linalg.yield %r : f32
  } -> tensor<1x2x8x1xf32>
  %ex = linalg.generic {indexing_maps = [#mi4, #mi4r, #mi4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%s, %mx : tensor<1x2x8x8xf32>, tensor<1x2x8x1xf32>) outs(%e : tensor<1x2x8x8xf32>) {
  ^bb0(%in: f32, %in1: f32, %out: f32):
    %d = arith.subf %in, %in1 : f32
    %x = math.exp %d : f32
    linalg.yield %x : f32
  } -> tensor<1x2x8x8xf32>
  %zi = linalg.fill ins(%c0 : f32) outs(%e1 : tensor<1x2x8x1xf32>) -> tensor<1x2x8x1xf32>
  %sm = linalg.generic {indexing_maps = [#mi4, #mi4r], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%ex : tensor<1x2x8x8xf32>) outs(%zi : tensor<1x2x8x1xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.addf %in, %out : f32
    linalg.yield %r : f32
  } -> tensor<1x2x8x1xf32>
  %p = linalg.generic {indexing_maps = [#mi4, #mi4r, #mi4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%ex, %sm : tensor<1x2x8x8xf32>, tensor<1x2x8x1xf32>) outs(%e : tensor<1x2x8x8xf32>) {
  ^bb0(%in: f32, %in1: f32, %out: f32):
    %d = arith.divf %in, %in1 : f32
    linalg.yield %d : f32
  } -> tensor<1x2x8x8xf32>
  %o = linalg.generic {indexing_maps = [affine_map<(b, h, i, e, j) -> (b, h, i, j)>, affine_map<(b, h, i, e, j) -> (b, h, j, e)>, affine_map<(b, h, i, e, j) -> (b, h, i, e)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%p, %v : tensor<1x2x8x8xf32>, tensor<1x2x8x8xf32>) outs(%z : tensor<1x2x8x8xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %x = arith.mulf %a, %b : f32
    %y = arith.addf %acc, %x : f32
    linalg.yield %y : f32
  } -> tensor<1x2x8x8xf32>
  return %o : tensor<1x2x8x8xf32>
}
