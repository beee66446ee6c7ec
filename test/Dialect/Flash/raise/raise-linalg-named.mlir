// RUN: flash-opt %s --flash-raise-attention --split-input-file | FileCheck %s

// Linalg named ops: batch_matmul with a transposed-B indexing map, f32
// scores from f16 inputs, linalg.softmax, truncf, batch_matmul.
#mq = affine_map<(b, m, n, k) -> (b, m, k)>
#mk = affine_map<(b, m, n, k) -> (b, n, k)>
#ms = affine_map<(b, m, n, k) -> (b, m, n)>
#id = affine_map<(b, m, n) -> (b, m, n)>
// CHECK-LABEL: func.func @bmm_transposed_map_softmax_f16(
// CHECK-SAME: %[[Q:.*]]: tensor<4x32x16xf16>, %[[K:.*]]: tensor<4x24x16xf16>, %[[V:.*]]: tensor<4x24x16xf16>
// CHECK-DAG: %[[Q4:.*]] = tensor.expand_shape %[[Q]] {{\[}}[0, 1], [2], [3]] output_shape [1, 4, 32, 16]
// CHECK-DAG: %[[K4:.*]] = tensor.expand_shape %[[K]] {{\[}}[0, 1], [2], [3]] output_shape [1, 4, 24, 16]
// CHECK-DAG: %[[V4:.*]] = tensor.expand_shape %[[V]] {{\[}}[0, 1], [2], [3]] output_shape [1, 4, 24, 16]
// CHECK: %[[O:.*]] = flash.attention %[[Q4]], %[[K4]], %[[V4]] {scale = 1.250000e-01 : f32} : tensor<1x4x32x16xf16>, tensor<1x4x24x16xf16>, tensor<1x4x24x16xf16> -> tensor<1x4x32x16xf16>
// CHECK-NOT: linalg
// CHECK: %[[R:.*]] = tensor.collapse_shape %[[O]] {{\[}}[0, 1], [2], [3]] : tensor<1x4x32x16xf16> into tensor<4x32x16xf16>
// CHECK-NEXT: return %[[R]]
func.func @bmm_transposed_map_softmax_f16(%q: tensor<4x32x16xf16>, %k: tensor<4x24x16xf16>, %v: tensor<4x24x16xf16>) -> tensor<4x32x16xf16> {
  %zero = arith.constant 0.0 : f32
  %zeroh = arith.constant 0.0 : f16
  %scale = arith.constant 0.125 : f32
  %e = tensor.empty() : tensor<4x32x24xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<4x32x24xf32>) -> tensor<4x32x24xf32>
  %s = linalg.batch_matmul indexing_maps = [#mq, #mk, #ms] ins(%q, %k : tensor<4x32x16xf16>, tensor<4x24x16xf16>) outs(%z : tensor<4x32x24xf32>) -> tensor<4x32x24xf32>
  %ss = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%s : tensor<4x32x24xf32>) outs(%e : tensor<4x32x24xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = arith.mulf %in, %scale : f32
    linalg.yield %m : f32
  } -> tensor<4x32x24xf32>
  %p = linalg.softmax dimension(2) ins(%ss : tensor<4x32x24xf32>) outs(%e : tensor<4x32x24xf32>) -> tensor<4x32x24xf32>
  %eh = tensor.empty() : tensor<4x32x24xf16>
  %ph = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%p : tensor<4x32x24xf32>) outs(%eh : tensor<4x32x24xf16>) {
  ^bb0(%in: f32, %out: f16):
    %t = arith.truncf %in : f32 to f16
    linalg.yield %t : f16
  } -> tensor<4x32x24xf16>
  %eo = tensor.empty() : tensor<4x32x16xf16>
  %zo = linalg.fill ins(%zeroh : f16) outs(%eo : tensor<4x32x16xf16>) -> tensor<4x32x16xf16>
  %o = linalg.batch_matmul ins(%ph, %v : tensor<4x32x24xf16>, tensor<4x24x16xf16>) outs(%zo : tensor<4x32x16xf16>) -> tensor<4x32x16xf16>
  return %o : tensor<4x32x16xf16>
}

// -----

// Two-dimensional matmuls, K transposed with linalg.transpose, the scale as
// a division by sqrt(d) (computed from a constant) after the matmul.
#id2 = affine_map<(i, j) -> (i, j)>
// CHECK-LABEL: func.func @matmul_2d_transpose_div_sqrt(
// CHECK-SAME: %[[Q:.*]]: tensor<32x16xf32>, %[[K:.*]]: tensor<40x16xf32>, %[[V:.*]]: tensor<40x8xf32>
// CHECK-DAG: %[[Q4:.*]] = tensor.expand_shape %[[Q]] {{\[}}[0, 1, 2], [3]] output_shape [1, 1, 32, 16]
// CHECK-DAG: %[[K4:.*]] = tensor.expand_shape %[[K]] {{\[}}[0, 1, 2], [3]] output_shape [1, 1, 40, 16]
// CHECK-DAG: %[[V4:.*]] = tensor.expand_shape %[[V]] {{\[}}[0, 1, 2], [3]] output_shape [1, 1, 40, 8]
// CHECK: flash.attention %[[Q4]], %[[K4]], %[[V4]] : tensor<1x1x32x16xf32>, tensor<1x1x40x16xf32>, tensor<1x1x40x8xf32> -> tensor<1x1x32x8xf32>
// CHECK-NOT: linalg.
// CHECK: return
func.func @matmul_2d_transpose_div_sqrt(%q: tensor<32x16xf32>, %k: tensor<40x16xf32>, %v: tensor<40x8xf32>) -> tensor<32x8xf32> {
  %zero = arith.constant 0.0 : f32
  %d = arith.constant 16.0 : f32
  %sqrtd = math.sqrt %d : f32
  %et = tensor.empty() : tensor<16x40xf32>
  %kt = linalg.transpose ins(%k : tensor<40x16xf32>) outs(%et : tensor<16x40xf32>) permutation = [1, 0]
  %e = tensor.empty() : tensor<32x40xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<32x40xf32>) -> tensor<32x40xf32>
  %s = linalg.matmul ins(%q, %kt : tensor<32x16xf32>, tensor<16x40xf32>) outs(%z : tensor<32x40xf32>) -> tensor<32x40xf32>
  %ss = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]} ins(%s : tensor<32x40xf32>) outs(%e : tensor<32x40xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = arith.divf %in, %sqrtd : f32
    linalg.yield %m : f32
  } -> tensor<32x40xf32>
  %p = linalg.softmax dimension(1) ins(%ss : tensor<32x40xf32>) outs(%e : tensor<32x40xf32>) -> tensor<32x40xf32>
  %eo = tensor.empty() : tensor<32x8xf32>
  %zo = linalg.fill ins(%zero : f32) outs(%eo : tensor<32x8xf32>) -> tensor<32x8xf32>
  %o = linalg.matmul ins(%p, %v : tensor<32x40xf32>, tensor<40x8xf32>) outs(%zo : tensor<32x8xf32>) -> tensor<32x8xf32>
  return %o : tensor<32x8xf32>
}

// -----

// Batch matmuls on [B*H, L, D] with the scale applied to Q by a named
// linalg.mul against a broadcast constant, bf16 throughout.
// CHECK-LABEL: func.func @bmm_scale_on_q_bf16(
// CHECK: flash.attention %{{.*}}, %{{.*}}, %{{.*}} {scale = 2.500000e-01 : f32} : tensor<1x6x16x8xbf16>, tensor<1x6x16x8xbf16>, tensor<1x6x16x8xbf16> -> tensor<1x6x16x8xbf16>
// CHECK-NOT: linalg.
// CHECK: return
func.func @bmm_scale_on_q_bf16(%q: tensor<6x16x8xbf16>, %k: tensor<6x16x8xbf16>, %v: tensor<6x16x8xbf16>) -> tensor<6x16x8xbf16> {
  %zero = arith.constant 0.0 : bf16
  %c = arith.constant dense<0.25> : tensor<6x16x8xbf16>
  %eq = tensor.empty() : tensor<6x16x8xbf16>
  %qs = linalg.mul ins(%q, %c : tensor<6x16x8xbf16>, tensor<6x16x8xbf16>) outs(%eq : tensor<6x16x8xbf16>) -> tensor<6x16x8xbf16>
  %et = tensor.empty() : tensor<6x8x16xbf16>
  %kt = linalg.transpose ins(%k : tensor<6x16x8xbf16>) outs(%et : tensor<6x8x16xbf16>) permutation = [0, 2, 1]
  %e = tensor.empty() : tensor<6x16x16xbf16>
  %z = linalg.fill ins(%zero : bf16) outs(%e : tensor<6x16x16xbf16>) -> tensor<6x16x16xbf16>
  %s = linalg.batch_matmul ins(%qs, %kt : tensor<6x16x8xbf16>, tensor<6x8x16xbf16>) outs(%z : tensor<6x16x16xbf16>) -> tensor<6x16x16xbf16>
  %p = linalg.softmax dimension(2) ins(%s : tensor<6x16x16xbf16>) outs(%e : tensor<6x16x16xbf16>) -> tensor<6x16x16xbf16>
  %zo = linalg.fill ins(%zero : bf16) outs(%eq : tensor<6x16x8xbf16>) -> tensor<6x16x8xbf16>
  %o = linalg.batch_matmul ins(%p, %v : tensor<6x16x16xbf16>, tensor<6x16x8xbf16>) outs(%zo : tensor<6x16x8xbf16>) -> tensor<6x16x8xbf16>
  return %o : tensor<6x16x8xbf16>
}

// -----

// Negative: linalg.softmax over the query axis.
#nq = affine_map<(b, m, n, k) -> (b, m, k)>
#nk = affine_map<(b, m, n, k) -> (b, n, k)>
#ns = affine_map<(b, m, n, k) -> (b, m, n)>
#nid = affine_map<(b, m, n) -> (b, m, n)>
// CHECK-LABEL: func.func @neg_softmax_over_query_axis(
// CHECK-NOT: flash.attention
// CHECK: linalg.softmax dimension(1)
func.func @neg_softmax_over_query_axis(%q: tensor<4x32x16xf16>, %k: tensor<4x24x16xf16>, %v: tensor<4x24x16xf16>) -> tensor<4x32x16xf16> {
  %zero = arith.constant 0.0 : f32
  %zeroh = arith.constant 0.0 : f16
  %scale = arith.constant 0.125 : f32
  %e = tensor.empty() : tensor<4x32x24xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<4x32x24xf32>) -> tensor<4x32x24xf32>
  %s = linalg.batch_matmul indexing_maps = [#nq, #nk, #ns] ins(%q, %k : tensor<4x32x16xf16>, tensor<4x24x16xf16>) outs(%z : tensor<4x32x24xf32>) -> tensor<4x32x24xf32>
  %ss = linalg.generic {indexing_maps = [#nid, #nid], iterator_types = ["parallel", "parallel", "parallel"]} ins(%s : tensor<4x32x24xf32>) outs(%e : tensor<4x32x24xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = arith.mulf %in, %scale : f32
    linalg.yield %m : f32
  } -> tensor<4x32x24xf32>
  %p = linalg.softmax dimension(1) ins(%ss : tensor<4x32x24xf32>) outs(%e : tensor<4x32x24xf32>) -> tensor<4x32x24xf32>
  %eh = tensor.empty() : tensor<4x32x24xf16>
  %ph = linalg.generic {indexing_maps = [#nid, #nid], iterator_types = ["parallel", "parallel", "parallel"]} ins(%p : tensor<4x32x24xf32>) outs(%eh : tensor<4x32x24xf16>) {
  ^bb0(%in: f32, %out: f16):
    %t = arith.truncf %in : f32 to f16
    linalg.yield %t : f16
  } -> tensor<4x32x24xf16>
  %eo = tensor.empty() : tensor<4x32x16xf16>
  %zo = linalg.fill ins(%zeroh : f16) outs(%eo : tensor<4x32x16xf16>) -> tensor<4x32x16xf16>
  %o = linalg.batch_matmul ins(%ph, %v : tensor<4x32x24xf16>, tensor<4x24x16xf16>) outs(%zo : tensor<4x32x16xf16>) -> tensor<4x32x16xf16>
  return %o : tensor<4x32x16xf16>
}
