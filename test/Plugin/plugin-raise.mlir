// LLVM 22's own mlir-opt raises a naive attention graph through FlashPlugin,
// the command of the integration guide:
// mlir-opt --load-dialect-plugin=P --load-pass-plugin=P
//   --pass-pipeline='builtin.module(func.func(flash-raise-attention))'
//
// REQUIRES: flash-plugin
// RUN: mlir-opt --load-dialect-plugin=%flash_plugin \
// RUN:   --load-pass-plugin=%flash_plugin \
// RUN:   --pass-pipeline='builtin.module(func.func(flash-raise-attention),canonicalize)' %s \
// RUN:   | FileCheck %s
// RUN: not mlir-opt --pass-pipeline='builtin.module(func.func(flash-raise-attention))' %s 2>&1 \
// RUN:   | FileCheck %s --check-prefix=NOPLUGIN

// CHECK-LABEL: func.func @attention
// CHECK:         flash.attention %{{.*}}, %{{.*}}, %{{.*}} {scale = 1.250000e-01 : f32} : tensor<2x4x64x32xf32>, tensor<2x4x64x32xf32>, tensor<2x4x64x32xf32> -> tensor<2x4x64x32xf32>
// CHECK-NOT:     linalg.batch_matmul
// CHECK-NOT:     math.exp
// NOPLUGIN: 'flash-raise-attention' does not refer to a registered pass

#map4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#map4t = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3, d2)>
#red_out = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, 0)>
func.func @attention(%q: tensor<2x4x64x32xf32>, %k: tensor<2x4x64x32xf32>,
                     %v: tensor<2x4x64x32xf32>) -> tensor<2x4x64x32xf32> {
  %cst = arith.constant 0.000000e+00 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %scale = arith.constant 1.250000e-01 : f32
  %e0 = tensor.empty() : tensor<2x4x32x64xf32>
  %kt = linalg.generic {indexing_maps = [#map4t, #map4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%k : tensor<2x4x64x32xf32>) outs(%e0 : tensor<2x4x32x64xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  } -> tensor<2x4x32x64xf32>
  %q3 = tensor.collapse_shape %q [[0, 1], [2], [3]] : tensor<2x4x64x32xf32> into tensor<8x64x32xf32>
  %kt3 = tensor.collapse_shape %kt [[0, 1], [2], [3]] : tensor<2x4x32x64xf32> into tensor<8x32x64xf32>
  %e1 = tensor.empty() : tensor<8x64x64xf32>
  %z1 = linalg.fill ins(%cst : f32) outs(%e1 : tensor<8x64x64xf32>) -> tensor<8x64x64xf32>
  %s3 = linalg.batch_matmul ins(%q3, %kt3 : tensor<8x64x32xf32>, tensor<8x32x64xf32>) outs(%z1 : tensor<8x64x64xf32>) -> tensor<8x64x64xf32>
  %s = tensor.expand_shape %s3 [[0, 1], [2], [3]] output_shape [2, 4, 64, 64] : tensor<8x64x64xf32> into tensor<2x4x64x64xf32>
  %e2 = tensor.empty() : tensor<2x4x64x64xf32>
  %ss = linalg.generic {indexing_maps = [#map4, #map4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%s : tensor<2x4x64x64xf32>) outs(%e2 : tensor<2x4x64x64xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = arith.mulf %in, %scale : f32
    linalg.yield %m : f32
  } -> tensor<2x4x64x64xf32>
  %e3 = tensor.empty() : tensor<2x4x64x1xf32>
  %mi = linalg.fill ins(%ninf : f32) outs(%e3 : tensor<2x4x64x1xf32>) -> tensor<2x4x64x1xf32>
  %mx = linalg.generic {indexing_maps = [#map4, #red_out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%ss : tensor<2x4x64x64xf32>) outs(%mi : tensor<2x4x64x1xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.maximumf %in, %out : f32
    linalg.yield %r : f32
  } -> tensor<2x4x64x1xf32>
  %ex = linalg.generic {indexing_maps = [#map4, #red_out, #map4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%ss, %mx : tensor<2x4x64x64xf32>, tensor<2x4x64x1xf32>) outs(%e2 : tensor<2x4x64x64xf32>) {
  ^bb0(%in: f32, %in1: f32, %out: f32):
    %d = arith.subf %in, %in1 : f32
    %x = math.exp %d : f32
    linalg.yield %x : f32
  } -> tensor<2x4x64x64xf32>
  %zi = linalg.fill ins(%cst : f32) outs(%e3 : tensor<2x4x64x1xf32>) -> tensor<2x4x64x1xf32>
  %sm = linalg.generic {indexing_maps = [#map4, #red_out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%ex : tensor<2x4x64x64xf32>) outs(%zi : tensor<2x4x64x1xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.addf %in, %out : f32
    linalg.yield %r : f32
  } -> tensor<2x4x64x1xf32>
  %p = linalg.generic {indexing_maps = [#map4, #red_out, #map4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%ex, %sm : tensor<2x4x64x64xf32>, tensor<2x4x64x1xf32>) outs(%e2 : tensor<2x4x64x64xf32>) {
  ^bb0(%in: f32, %in1: f32, %out: f32):
    %d = arith.divf %in, %in1 : f32
    linalg.yield %d : f32
  } -> tensor<2x4x64x64xf32>
  %p3 = tensor.collapse_shape %p [[0, 1], [2], [3]] : tensor<2x4x64x64xf32> into tensor<8x64x64xf32>
  %v3 = tensor.collapse_shape %v [[0, 1], [2], [3]] : tensor<2x4x64x32xf32> into tensor<8x64x32xf32>
  %e4 = tensor.empty() : tensor<8x64x32xf32>
  %z4 = linalg.fill ins(%cst : f32) outs(%e4 : tensor<8x64x32xf32>) -> tensor<8x64x32xf32>
  %o3 = linalg.batch_matmul ins(%p3, %v3 : tensor<8x64x64xf32>, tensor<8x64x32xf32>) outs(%z4 : tensor<8x64x32xf32>) -> tensor<8x64x32xf32>
  %o = tensor.expand_shape %o3 [[0, 1], [2], [3]] output_shape [2, 4, 64, 32] : tensor<8x64x32xf32> into tensor<2x4x64x32xf32>
  return %o : tensor<2x4x64x32xf32>
}
