// Near-misses get a remark saying which step failed, with emit-remarks only.
// RUN: flash-opt %S/raise-negative.mlir --split-input-file --flash-raise-attention=emit-remarks=true -o /dev/null 2>&1 | FileCheck %s
// RUN: flash-opt %S/raise-negative.mlir --split-input-file --flash-raise-attention -o /dev/null 2>&1 | count 0
// RUN: flash-opt %s --flash-raise-attention=emit-remarks=true -o /dev/null 2>&1 | count 0

// CHECK: remark: attention not raised: the scores or probabilities computed by 'linalg.generic' are used outside the attention
// CHECK: remark: attention not raised: the scores or probabilities computed by 'linalg.generic' are used outside the attention
// CHECK: remark: attention not raised: exp(...) is multiplied with V without being normalized by its row sum
// CHECK: remark: attention not raised: the scores are multiplied by a non-constant
// CHECK: remark: attention not raised: the row maximum is not taken over the scores along the key axis contracted with V
// CHECK: remark: attention not raised: a select on the scores does not replace them with -inf or a large negative value
// CHECK: remark: attention not raised: an additive mask is scaled together with the scores
// CHECK: remark: attention not raised: one select fills hidden scores with -inf and another with -1.000000e+09: flash.attention gives all hidden keys one score
// CHECK: remark: attention not raised: a select fills hidden scores with the finite value -1.000000e+09 and an additive mask is applied too: flash.attention cannot say which keys take the fill
// CHECK: remark: attention not raised: the row maximum does not start from -inf (or the lowest finite value of its type)

// A plain matmul chain with no softmax is not a near-match: no remark.
func.func @no_softmax(%a: tensor<8x8xf32>, %b: tensor<8x8xf32>, %c: tensor<8x8xf32>) -> tensor<8x8xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x8xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<8x8xf32>) -> tensor<8x8xf32>
  %ab = linalg.matmul ins(%a, %b : tensor<8x8xf32>, tensor<8x8xf32>) outs(%z : tensor<8x8xf32>) -> tensor<8x8xf32>
  %r = linalg.matmul ins(%ab, %c : tensor<8x8xf32>, tensor<8x8xf32>) outs(%z : tensor<8x8xf32>) -> tensor<8x8xf32>
  return %r : tensor<8x8xf32>
}
