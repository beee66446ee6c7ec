// flash-decompose-attention and flash-tile-attention rewrite flash ops only.
// On a naive softmax(Q Kᵀ) V graph that was not raised they say so, at the
// softmax, instead of leaving it unchanged without a word; once raised, or
// on input without such a graph, they say nothing.
// RUN: flash-opt --flash-decompose-attention %flash_src_root/examples/naive_attention.mlir -o /dev/null 2>&1 | FileCheck %s --check-prefix=DECOMPOSE
// RUN: flash-opt --flash-tile-attention %flash_src_root/examples/naive_attention.mlir -o /dev/null 2>&1 | FileCheck %s --check-prefix=TILE
// RUN: flash-opt --flash-raise-attention --flash-decompose-attention %flash_src_root/examples/naive_attention.mlir -o /dev/null 2>&1 | FileCheck %s --allow-empty --check-prefix=QUIET
// RUN: flash-opt --flash-decompose-attention %s -o /dev/null 2>&1 | FileCheck %s --allow-empty --check-prefix=QUIET
// DECOMPOSE: naive_attention.mlir:{{[0-9]+}}:{{[0-9]+}}: remark: flash-decompose-attention: no flash op to rewrite here, but a softmax and a matrix product: a naive softmax(Q Kᵀ) V graph must be raised into flash.attention first (--flash-raise-attention)
// DECOMPOSE-NEXT: linalg.softmax
// TILE: remark: flash-tile-attention: no flash op to rewrite here
// QUIET-NOT: remark

// An exponential without a matrix product is no attention.
func.func @exp_only(%x: tensor<4xf32>) -> tensor<4xf32> {
  %e = math.exp %x : tensor<4xf32>
  return %e : tensor<4xf32>
}
