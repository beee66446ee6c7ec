// Lowerings keep the op's result types, however static, and handle
// dynamic extents: result types less static than the operands, a mask with
// a dynamic head extent, a layout builder with dynamic results, head counts
// static on one side and dynamic on the other, and fully dynamic operands.
// RUN: flash-opt %s -split-input-file --flash-decompose-attention | FileCheck %s --check-prefixes=CHECK,DECOMP
// RUN: flash-opt %s -split-input-file --flash-tile-attention | FileCheck %s --check-prefixes=CHECK,TILE
// RUN: flash-opt %s -split-input-file --flash-to-cpu | FileCheck %s --check-prefix=CPU
// RUN: flash-opt %s -split-input-file --flash-decompose-attention --flash-to-cpu | FileCheck %s --check-prefix=CPU

// CPU-NOT: flash.
// CPU-NOT: error

// CHECK-LABEL: func.func @less_static_result
// CHECK-NOT:     flash.attention
// CHECK:         %[[R:.*]] = tensor.cast %{{.*}} : tensor<1x2x8x4xf32> to tensor<?x?x?x?xf32>
// CHECK:         return %[[R]]
func.func @less_static_result(%q: tensor<1x2x8x4xf32>, %k: tensor<1x1x8x4xf32>,
                              %v: tensor<1x1x8x4xf32>) -> tensor<?x?x?x?xf32> {
  %o = flash.attention %q, %k, %v
      : tensor<1x2x8x4xf32>, tensor<1x1x8x4xf32>, tensor<1x1x8x4xf32> -> tensor<?x?x?x?xf32>
  return %o : tensor<?x?x?x?xf32>
}

// -----

// DECOMP-LABEL: func.func @dynamic_mask_heads
// DECOMP:         tensor.cast %{{.*}} : tensor<1x?x8x8xi1> to tensor<1x2x8x8xi1>
// DECOMP:         tensor.expand_shape {{.*}} into tensor<1x1x2x8x8xi1>
// TILE-LABEL:   func.func @dynamic_mask_heads
// TILE-NOT:       flash.attention
func.func @dynamic_mask_heads(%q: tensor<1x2x8x4xf32>, %k: tensor<1x1x8x4xf32>,
                              %v: tensor<1x1x8x4xf32>, %m: tensor<1x?x8x8xi1>)
    -> tensor<1x2x8x4xf32> {
  %o = flash.attention %q, %k, %v mask(%m : tensor<1x?x8x8xi1>)
      : tensor<1x2x8x4xf32>, tensor<1x1x8x4xf32>, tensor<1x1x8x4xf32> -> tensor<1x2x8x4xf32>
  return %o : tensor<1x2x8x4xf32>
}

// -----

// DECOMP-LABEL: func.func @dynamic_layout_results
// DECOMP:         tensor.cast %{{.*}} : tensor<1x1x2xi32> to tensor<?x?x?xi32>
// DECOMP:         tensor.cast %{{.*}} : tensor<1x1x2x2xi32> to tensor<?x?x?x?xi32>
func.func @dynamic_layout_results(%t: tensor<1x1x2x2xi1>)
    -> (tensor<?x?x?xi32>, tensor<?x?x?x?xi32>) {
  %n, %i = flash.block_sparse_layout %t
      : tensor<1x1x2x2xi1> -> tensor<?x?x?xi32>, tensor<?x?x?x?xi32>
  return %n, %i : tensor<?x?x?xi32>, tensor<?x?x?x?xi32>
}

// -----

// Static query heads, dynamic key/value heads: both parts of the split head
// axis are dynamic, so the query is copied into [B, Hkv, G, ...] rather
// than expanded (a static extent cannot expand into dynamic parts).
// DECOMP-LABEL: func.func @static_query_heads
// DECOMP-NOT:     tensor.expand_shape
// DECOMP:         tensor.extract %{{.*}} : tensor<1x4x8x4xf32>
// TILE-LABEL:   func.func @static_query_heads
// TILE-NOT:       flash.attention
func.func @static_query_heads(%q: tensor<1x4x8x4xf32>, %k: tensor<1x?x8x4xf32>,
                              %v: tensor<1x?x8x4xf32>) -> tensor<1x4x8x4xf32> {
  %o = flash.attention %q, %k, %v
      : tensor<1x4x8x4xf32>, tensor<1x?x8x4xf32>, tensor<1x?x8x4xf32> -> tensor<1x4x8x4xf32>
  return %o : tensor<1x4x8x4xf32>
}

// -----

// Dynamic query heads, static key/value heads: the query's head axis
// expands into a static and a dynamic part; the mask's static head extent
// is cast dynamic first.
// DECOMP-LABEL: func.func @static_kv_heads
// DECOMP-DAG:     tensor.expand_shape {{.*}} : tensor<1x?x8x4xf32> into tensor<1x2x?x8x4xf32>
// DECOMP-DAG:     tensor.cast %{{.*}} : tensor<1x4x8x8xi1> to tensor<1x?x8x8xi1>
// TILE-LABEL:   func.func @static_kv_heads
// TILE-NOT:       flash.attention
func.func @static_kv_heads(%q: tensor<1x?x8x4xf32>, %k: tensor<1x2x8x4xf32>,
                           %v: tensor<1x2x8x4xf32>, %m: tensor<1x4x8x8xi1>)
    -> tensor<1x?x8x4xf32> {
  %o = flash.attention %q, %k, %v mask(%m : tensor<1x4x8x8xi1>)
      : tensor<1x?x8x4xf32>, tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32> -> tensor<1x?x8x4xf32>
  return %o : tensor<1x?x8x4xf32>
}

// -----

// Both head counts dynamic: copied as for static_query_heads, since a
// memref.expand_shape with two dynamic sizes in one group crashes MLIR
// 22's expand-strided-metadata (the decompose + flash-to-cpu RUN line).
// CHECK-LABEL: func.func @all_dynamic
// CHECK-NOT:     flash.attention
// CHECK:         return {{.*}} : tensor<?x?x?x?xf32>, tensor<?x?x?xf32>
func.func @all_dynamic(%q: tensor<?x?x?x?xf32>, %k: tensor<?x?x?x?xf32>,
                       %v: tensor<?x?x?x?xf32>)
    -> (tensor<?x?x?x?xf32>, tensor<?x?x?xf32>) {
  %o, %l = flash.attention %q, %k, %v {scale = 0.5 : f32, mask_kind = #flash.mask<causal>}
      : tensor<?x?x?x?xf32>, tensor<?x?x?x?xf32>, tensor<?x?x?x?xf32>
      -> tensor<?x?x?x?xf32>, tensor<?x?x?xf32>
  return %o, %l : tensor<?x?x?x?xf32>, tensor<?x?x?xf32>
}

// -----

// Dynamic operands whose extents fold to constants while the pattern runs
// (casts of constants, found by attention_exec.py's dynamic cases): the
// split's static sizes are attributes, and the extents it does not split
// stay those of the (dynamic) source, so the expand_shape verifies.
// DECOMP-LABEL: func.func @folded_extents
// DECOMP:         tensor.expand_shape {{.*}} output_shape [%{{.*}}, 3, 1, %{{.*}}, %{{.*}}] : tensor<?x3x?x?xf32> into tensor<?x3x1x?x?xf32>
// TILE-LABEL:   func.func @folded_extents
// TILE-NOT:       flash.attention
func.func @folded_extents(%m: tensor<2x3x5x6xi1>) -> tensor<?x?x?x?xf32> {
  %q = arith.constant dense<1.0> : tensor<2x3x5x8xf32>
  %k = arith.constant dense<1.0> : tensor<2x3x6x8xf32>
  %qd = tensor.cast %q : tensor<2x3x5x8xf32> to tensor<?x?x?x?xf32>
  %kd = tensor.cast %k : tensor<2x3x6x8xf32> to tensor<?x?x?x?xf32>
  %o = flash.attention %qd, %kd, %kd mask(%m : tensor<2x3x5x6xi1>) {scale = 0.5 : f32}
      : tensor<?x?x?x?xf32>, tensor<?x?x?x?xf32>, tensor<?x?x?x?xf32> -> tensor<?x?x?x?xf32>
  return %o : tensor<?x?x?x?xf32>
}
