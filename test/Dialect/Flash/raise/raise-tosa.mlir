// RUN: flash-opt %s --flash-raise-attention --split-input-file | FileCheck %s

// TOSA: [B*H, L, D] f32, the scale folded into Q with tosa.mul (and its
// shift operand), K transposed with tosa.transpose, the softmax as
// reduce_max / sub / exp / reduce_sum / reciprocal / mul.
// CHECK-LABEL: func.func @tosa_scale_on_q(
// CHECK-SAME: %[[Q:[^:]*]]: tensor<8x64x32xf32>, %[[K:[^:]*]]: tensor<8x48x32xf32>, %[[V:[^:]*]]: tensor<8x48x16xf32>
// CHECK-DAG: %[[Q4:.*]] = tensor.expand_shape %[[Q]] {{\[}}[0, 1], [2], [3]] output_shape [1, 8, 64, 32]
// CHECK-DAG: %[[K4:.*]] = tensor.expand_shape %[[K]] {{\[}}[0, 1], [2], [3]] output_shape [1, 8, 48, 32]
// CHECK-DAG: %[[V4:.*]] = tensor.expand_shape %[[V]] {{\[}}[0, 1], [2], [3]] output_shape [1, 8, 48, 16]
// CHECK: %[[O:.*]] = flash.attention %[[Q4]], %[[K4]], %[[V4]] : tensor<1x8x64x32xf32>, tensor<1x8x48x32xf32>, tensor<1x8x48x16xf32> -> tensor<1x8x64x16xf32>
// CHECK-NOT: tosa.
// CHECK: %[[R:.*]] = tensor.collapse_shape %[[O]] {{\[}}[0, 1], [2], [3]] : tensor<1x8x64x16xf32> into tensor<8x64x16xf32>
// CHECK-NEXT: return %[[R]]
func.func @tosa_scale_on_q(%q: tensor<8x64x32xf32>, %k: tensor<8x48x32xf32>, %v: tensor<8x48x16xf32>) -> tensor<8x64x16xf32> {
  %shift = "tosa.const"() <{values = dense<0> : tensor<1xi8>}> : () -> tensor<1xi8>
  %scale = "tosa.const"() <{values = dense<0.176776695> : tensor<1x1x1xf32>}> : () -> tensor<1x1x1xf32>
  %qs = tosa.mul %q, %scale, %shift : (tensor<8x64x32xf32>, tensor<1x1x1xf32>, tensor<1xi8>) -> tensor<8x64x32xf32>
  %kt = tosa.transpose %k {perms = array<i32: 0, 2, 1>} : (tensor<8x48x32xf32>) -> tensor<8x32x48xf32>
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %s = tosa.matmul %qs, %kt, %zp, %zp : (tensor<8x64x32xf32>, tensor<8x32x48xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<8x64x48xf32>
  %mx = tosa.reduce_max %s {axis = 2 : i32} : (tensor<8x64x48xf32>) -> tensor<8x64x1xf32>
  %d = tosa.sub %s, %mx : (tensor<8x64x48xf32>, tensor<8x64x1xf32>) -> tensor<8x64x48xf32>
  %ex = tosa.exp %d : (tensor<8x64x48xf32>) -> tensor<8x64x48xf32>
  %sm = tosa.reduce_sum %ex {axis = 2 : i32} : (tensor<8x64x48xf32>) -> tensor<8x64x1xf32>
  %r = tosa.reciprocal %sm : (tensor<8x64x1xf32>) -> tensor<8x64x1xf32>
  %p = tosa.mul %ex, %r, %shift : (tensor<8x64x48xf32>, tensor<8x64x1xf32>, tensor<1xi8>) -> tensor<8x64x48xf32>
  %o = tosa.matmul %p, %v, %zp, %zp : (tensor<8x64x48xf32>, tensor<8x48x16xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<8x64x16xf32>
  return %o : tensor<8x64x16xf32>
}

// -----

// TOSA with the scale on the scores, an additive mask with tosa.add, f16
// inputs cast to f32 for the softmax and back with tosa.cast.
// CHECK-LABEL: func.func @tosa_f16_cast_scores_scale_mask(
// CHECK-SAME: %[[Q:[^:]*]]: tensor<4x16x8xf16>, %[[K:[^:]*]]: tensor<4x16x8xf16>, %[[V:[^:]*]]: tensor<4x16x8xf16>, %[[M:[^:]*]]: tensor<1x16x16xf32>
// CHECK: tensor.collapse_shape %[[M]] {{\[}}[0, 1], [2]] : tensor<1x16x16xf32> into tensor<16x16xf32>
// CHECK: %[[M4:.*]] = tensor.expand_shape %{{.*}} {{\[}}[0, 1, 2], [3]] output_shape [1, 1, 16, 16]
// CHECK: flash.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%[[M4]] : tensor<1x1x16x16xf32>) {scale = 1.000000e+00 : f32} : tensor<1x4x16x8xf16>, tensor<1x4x16x8xf16>, tensor<1x4x16x8xf16> -> tensor<1x4x16x8xf16>
// CHECK-NOT: tosa.
// CHECK: return
func.func @tosa_f16_cast_scores_scale_mask(%q: tensor<4x16x8xf16>, %k: tensor<4x16x8xf16>, %v: tensor<4x16x8xf16>, %m: tensor<1x16x16xf32>) -> tensor<4x16x8xf16> {
  %shift = "tosa.const"() <{values = dense<0> : tensor<1xi8>}> : () -> tensor<1xi8>
  %scale = "tosa.const"() <{values = dense<1.0> : tensor<1x1x1xf32>}> : () -> tensor<1x1x1xf32>
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf16>}> : () -> tensor<1xf16>
  %kt = tosa.transpose %k {perms = array<i32: 0, 2, 1>} : (tensor<4x16x8xf16>) -> tensor<4x8x16xf16>
  %s = tosa.matmul %q, %kt, %zp, %zp : (tensor<4x16x8xf16>, tensor<4x8x16xf16>, tensor<1xf16>, tensor<1xf16>) -> tensor<4x16x16xf32>
  %ss = tosa.mul %s, %scale, %shift : (tensor<4x16x16xf32>, tensor<1x1x1xf32>, tensor<1xi8>) -> tensor<4x16x16xf32>
  %sm0 = tosa.add %ss, %m : (tensor<4x16x16xf32>, tensor<1x16x16xf32>) -> tensor<4x16x16xf32>
  %mx = tosa.reduce_max %sm0 {axis = 2 : i32} : (tensor<4x16x16xf32>) -> tensor<4x16x1xf32>
  %d = tosa.sub %sm0, %mx : (tensor<4x16x16xf32>, tensor<4x16x1xf32>) -> tensor<4x16x16xf32>
  %ex = tosa.exp %d : (tensor<4x16x16xf32>) -> tensor<4x16x16xf32>
  %sm = tosa.reduce_sum %ex {axis = 2 : i32} : (tensor<4x16x16xf32>) -> tensor<4x16x1xf32>
  %r = tosa.reciprocal %sm : (tensor<4x16x1xf32>) -> tensor<4x16x1xf32>
  %p = tosa.mul %ex, %r, %shift : (tensor<4x16x16xf32>, tensor<4x16x1xf32>, tensor<1xi8>) -> tensor<4x16x16xf32>
  %ph = tosa.cast %p : (tensor<4x16x16xf32>) -> tensor<4x16x16xf16>
  %o = tosa.matmul %ph, %v, %zp, %zp : (tensor<4x16x16xf16>, tensor<4x16x8xf16>, tensor<1xf16>, tensor<1xf16>) -> tensor<4x16x8xf16>
  return %o : tensor<4x16x8xf16>
}

// -----

// Negative: the row sum is taken over the query axis.
// CHECK-LABEL: func.func @neg_tosa_sum_over_query_axis(
// CHECK-NOT: flash.attention
// CHECK: tosa.reduce_sum
func.func @neg_tosa_sum_over_query_axis(%q: tensor<8x64x32xf32>, %k: tensor<8x48x32xf32>, %v: tensor<8x48x16xf32>) -> tensor<8x64x16xf32> {
  %shift = "tosa.const"() <{values = dense<0> : tensor<1xi8>}> : () -> tensor<1xi8>
  %scale = "tosa.const"() <{values = dense<0.176776695> : tensor<1x1x1xf32>}> : () -> tensor<1x1x1xf32>
  %qs = tosa.mul %q, %scale, %shift : (tensor<8x64x32xf32>, tensor<1x1x1xf32>, tensor<1xi8>) -> tensor<8x64x32xf32>
  %kt = tosa.transpose %k {perms = array<i32: 0, 2, 1>} : (tensor<8x48x32xf32>) -> tensor<8x32x48xf32>
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %s = tosa.matmul %qs, %kt, %zp, %zp : (tensor<8x64x32xf32>, tensor<8x32x48xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<8x64x48xf32>
  %mx = tosa.reduce_max %s {axis = 2 : i32} : (tensor<8x64x48xf32>) -> tensor<8x64x1xf32>
  %d = tosa.sub %s, %mx : (tensor<8x64x48xf32>, tensor<8x64x1xf32>) -> tensor<8x64x48xf32>
  %ex = tosa.exp %d : (tensor<8x64x48xf32>) -> tensor<8x64x48xf32>
  %sm = tosa.reduce_sum %ex {axis = 1 : i32} : (tensor<8x64x48xf32>) -> tensor<8x1x48xf32>
  %r = tosa.reciprocal %sm : (tensor<8x1x48xf32>) -> tensor<8x1x48xf32>
  %p = tosa.mul %ex, %r, %shift : (tensor<8x64x48xf32>, tensor<8x1x48xf32>, tensor<1xi8>) -> tensor<8x64x48xf32>
  %o = tosa.matmul %p, %v, %zp, %zp : (tensor<8x64x48xf32>, tensor<8x48x16xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<8x64x16xf32>
  return %o : tensor<8x64x16xf32>
}
