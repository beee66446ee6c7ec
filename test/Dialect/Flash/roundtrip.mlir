// RUN: flash-opt %s | flash-opt | FileCheck %s
// RUN: flash-opt %s --mlir-print-op-generic | flash-opt | FileCheck %s

// Every op and attribute form of the flash dialect survives printing and
// parsing, in the custom and in the generic form.

// CHECK-LABEL: func.func @dense_f32
// CHECK: flash.attention %{{.*}}, %{{.*}}, %{{.*}} : tensor<2x4x128x64xf32>, tensor<2x4x128x64xf32>, tensor<2x4x128x64xf32> -> tensor<2x4x128x64xf32>
func.func @dense_f32(%q: tensor<2x4x128x64xf32>, %k: tensor<2x4x128x64xf32>,
                     %v: tensor<2x4x128x64xf32>) -> tensor<2x4x128x64xf32> {
  %o = flash.attention %q, %k, %v
      : tensor<2x4x128x64xf32>, tensor<2x4x128x64xf32>, tensor<2x4x128x64xf32>
      -> tensor<2x4x128x64xf32>
  return %o : tensor<2x4x128x64xf32>
}

// CHECK-LABEL: func.func @mask_kinds_f16
// CHECK: flash.attention %{{[^ ]*}}, %{{[^ ]*}}, %{{[^ ]*}} : tensor<1x2x16x32xf16>, tensor<1x2x48x32xf16>, tensor<1x2x48x32xf16> -> tensor<1x2x16x32xf16>
// CHECK: flash.attention {{.*}} {mask_kind = #flash.mask<causal>}
// CHECK: flash.attention {{.*}} {mask_kind = #flash.mask<causal_bottom_right>}
// CHECK: flash.attention {{.*}} {mask_kind = #flash.mask<sliding_window>, window = array<i64: 8, 0>}
func.func @mask_kinds_f16(%q: tensor<1x2x16x32xf16>, %k: tensor<1x2x48x32xf16>,
                          %v: tensor<1x2x48x32xf16>) {
  // The default mask kind, written explicitly, is elided when printed.
  %0 = flash.attention %q, %k, %v {mask_kind = #flash.mask<none>}
      : tensor<1x2x16x32xf16>, tensor<1x2x48x32xf16>, tensor<1x2x48x32xf16>
      -> tensor<1x2x16x32xf16>
  %1 = flash.attention %q, %k, %v {mask_kind = #flash.mask<causal>}
      : tensor<1x2x16x32xf16>, tensor<1x2x48x32xf16>, tensor<1x2x48x32xf16>
      -> tensor<1x2x16x32xf16>
  %2 = flash.attention %q, %k, %v {mask_kind = #flash.mask<causal_bottom_right>}
      : tensor<1x2x16x32xf16>, tensor<1x2x48x32xf16>, tensor<1x2x48x32xf16>
      -> tensor<1x2x16x32xf16>
  %3 = flash.attention %q, %k, %v
      {mask_kind = #flash.mask<sliding_window>, window = array<i64: 8, 0>}
      : tensor<1x2x16x32xf16>, tensor<1x2x48x32xf16>, tensor<1x2x48x32xf16>
      -> tensor<1x2x16x32xf16>
  return
}

// CHECK-LABEL: func.func @scale_softcap_lse_bf16
// CHECK: %{{.*}}, %{{.*}} = flash.attention {{.*}} {scale = 1.250000e-01 : f32, softcap = 5.000000e+01 : f32} : tensor<2x8x64x128xbf16>, tensor<2x8x64x128xbf16>, tensor<2x8x64x128xbf16> -> tensor<2x8x64x128xbf16>, tensor<2x8x64xf32>
func.func @scale_softcap_lse_bf16(%q: tensor<2x8x64x128xbf16>,
                                  %k: tensor<2x8x64x128xbf16>,
                                  %v: tensor<2x8x64x128xbf16>)
    -> (tensor<2x8x64x128xbf16>, tensor<2x8x64xf32>) {
  %o, %lse = flash.attention %q, %k, %v
      {scale = 0.125 : f32, softcap = 50.0 : f32}
      : tensor<2x8x64x128xbf16>, tensor<2x8x64x128xbf16>,
        tensor<2x8x64x128xbf16>
      -> tensor<2x8x64x128xbf16>, tensor<2x8x64xf32>
  return %o, %lse : tensor<2x8x64x128xbf16>, tensor<2x8x64xf32>
}

// CHECK-LABEL: func.func @masked_score
// CHECK: flash.attention {{.*}} {mask_kind = #flash.mask<causal>, masked_score = -3.40282347E+38 : f32} : tensor<1x2x16x32xf16>
func.func @masked_score(%q: tensor<1x2x16x32xf16>) -> tensor<1x2x16x32xf16> {
  %o = flash.attention %q, %q, %q
      {mask_kind = #flash.mask<causal>, masked_score = -3.40282347E+38 : f32}
      : tensor<1x2x16x32xf16>, tensor<1x2x16x32xf16>, tensor<1x2x16x32xf16>
      -> tensor<1x2x16x32xf16>
  return %o : tensor<1x2x16x32xf16>
}

// CHECK-LABEL: func.func @masks
// CHECK: flash.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%{{.*}} : tensor<2x4x16x16xi1>) :
// CHECK: flash.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%{{.*}} : tensor<1x1x16x16xf32>) {mask_kind = #flash.mask<causal>} :
// CHECK: flash.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%{{.*}} : tensor<2x1x1x16xbf16>) :
func.func @masks(%q: tensor<2x4x16x32xf32>, %k: tensor<2x4x16x32xf32>,
                 %v: tensor<2x4x16x32xf32>, %bool: tensor<2x4x16x16xi1>,
                 %bias: tensor<1x1x16x16xf32>, %pad: tensor<2x1x1x16xbf16>) {
  // A full boolean mask, a broadcast additive one with a structural mask,
  // and a per-batch key-padding bias in another float type.
  %0 = flash.attention %q, %k, %v mask(%bool : tensor<2x4x16x16xi1>)
      : tensor<2x4x16x32xf32>, tensor<2x4x16x32xf32>, tensor<2x4x16x32xf32>
      -> tensor<2x4x16x32xf32>
  %1 = flash.attention %q, %k, %v mask(%bias : tensor<1x1x16x16xf32>)
      {mask_kind = #flash.mask<causal>}
      : tensor<2x4x16x32xf32>, tensor<2x4x16x32xf32>, tensor<2x4x16x32xf32>
      -> tensor<2x4x16x32xf32>
  %2 = flash.attention %q, %k, %v mask(%pad : tensor<2x1x1x16xbf16>)
      : tensor<2x4x16x32xf32>, tensor<2x4x16x32xf32>, tensor<2x4x16x32xf32>
      -> tensor<2x4x16x32xf32>
  return
}

// CHECK-LABEL: func.func @block_sparse
// CHECK: flash.attention %{{.*}}, %{{.*}}, %{{.*}} block_sparse(%{{.*}}, %{{.*}} : tensor<1x1x4xi32>, tensor<1x1x4x4xi32>) {block_sizes = array<i64: 64, 32>} :
// CHECK: flash.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%{{.*}} : tensor<1x1x256x128xi1>) block_sparse(%{{.*}}, %{{.*}} : tensor<1x1x4xi32>, tensor<1x1x4x4xi32>) full(%{{.*}}, %{{.*}} : tensor<1x1x4xi32>, tensor<1x1x4x2xi32>) {block_sizes = array<i64: 64, 32>, mask_kind = #flash.mask<causal>} :
func.func @block_sparse(%q: tensor<1x2x256x64xf16>, %k: tensor<1x2x128x64xf16>,
                        %v: tensor<1x2x128x64xf16>, %n: tensor<1x1x4xi32>,
                        %idx: tensor<1x1x4x4xi32>, %fn: tensor<1x1x4xi32>,
                        %fidx: tensor<1x1x4x2xi32>,
                        %m: tensor<1x1x256x128xi1>) {
  %0 = flash.attention %q, %k, %v
      block_sparse(%n, %idx : tensor<1x1x4xi32>, tensor<1x1x4x4xi32>)
      {block_sizes = array<i64: 64, 32>}
      : tensor<1x2x256x64xf16>, tensor<1x2x128x64xf16>, tensor<1x2x128x64xf16>
      -> tensor<1x2x256x64xf16>
  %1 = flash.attention %q, %k, %v mask(%m : tensor<1x1x256x128xi1>)
      block_sparse(%n, %idx : tensor<1x1x4xi32>, tensor<1x1x4x4xi32>)
      full(%fn, %fidx : tensor<1x1x4xi32>, tensor<1x1x4x2xi32>)
      {block_sizes = array<i64: 64, 32>, mask_kind = #flash.mask<causal>}
      : tensor<1x2x256x64xf16>, tensor<1x2x128x64xf16>, tensor<1x2x128x64xf16>
      -> tensor<1x2x256x64xf16>
  return
}

// CHECK-LABEL: func.func @dynamic_gqa
// CHECK: %{{.*}}, %{{.*}} = flash.attention {{.*}} {scale = 1.250000e-01 : f32} : tensor<?x8x?x?xf32>, tensor<?x2x?x?xf32>, tensor<?x2x?x?xf32> -> tensor<?x8x?x?xf32>, tensor<?x8x?xf32>
func.func @dynamic_gqa(%q: tensor<?x8x?x?xf32>, %k: tensor<?x2x?x?xf32>,
                       %v: tensor<?x2x?x?xf32>)
    -> (tensor<?x8x?x?xf32>, tensor<?x8x?xf32>) {
  // Dynamic extents need an explicit scale; 8 query heads share 2 kv heads.
  %o, %lse = flash.attention %q, %k, %v {scale = 0.125 : f32}
      : tensor<?x8x?x?xf32>, tensor<?x2x?x?xf32>, tensor<?x2x?x?xf32>
      -> tensor<?x8x?x?xf32>, tensor<?x8x?xf32>
  return %o, %lse : tensor<?x8x?x?xf32>, tensor<?x8x?xf32>
}

// CHECK-LABEL: func.func @mqa
// CHECK: flash.attention {{.*}} : tensor<1x16x32x64xf16>, tensor<1x1x32x64xf16>, tensor<1x1x32x96xf16> -> tensor<1x16x32x96xf16>
func.func @mqa(%q: tensor<1x16x32x64xf16>, %k: tensor<1x1x32x64xf16>,
               %v: tensor<1x1x32x96xf16>) -> tensor<1x16x32x96xf16> {
  // Multi-query attention, with a value head dim unlike the key's.
  %o = flash.attention %q, %k, %v
      : tensor<1x16x32x64xf16>, tensor<1x1x32x64xf16>, tensor<1x1x32x96xf16>
      -> tensor<1x16x32x96xf16>
  return %o : tensor<1x16x32x96xf16>
}

// CHECK-LABEL: func.func @grad
// CHECK: %{{.*}}, %{{.*}}, %{{.*}} = flash.attention_grad %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : tensor<2x4x64x32xbf16>, tensor<2x2x64x32xbf16>, tensor<2x2x64x32xbf16>, tensor<2x4x64x32xbf16>, tensor<2x4x64x32xbf16>, tensor<2x4x64xf32> -> tensor<2x4x64x32xbf16>, tensor<2x2x64x32xbf16>, tensor<2x2x64x32xbf16>
// CHECK: flash.attention_grad {{.*}} mask(%{{.*}} : tensor<2x1x64x64xf32>) block_sparse(%{{.*}}, %{{.*}} : tensor<2x4x2xi32>, tensor<2x4x2x2xi32>) full(%{{.*}}, %{{.*}} : tensor<2x4x2xi32>, tensor<2x4x2x1xi32>) {block_sizes = array<i64: 32, 32>, mask_kind = #flash.mask<sliding_window>, scale = 2.500000e-01 : f32, softcap = 3.000000e+01 : f32, window = array<i64: 16, 4>} :
func.func @grad(%q: tensor<2x4x64x32xbf16>, %k: tensor<2x2x64x32xbf16>,
                %v: tensor<2x2x64x32xbf16>, %o: tensor<2x4x64x32xbf16>,
                %do: tensor<2x4x64x32xbf16>, %lse: tensor<2x4x64xf32>,
                %m: tensor<2x1x64x64xf32>, %n: tensor<2x4x2xi32>,
                %idx: tensor<2x4x2x2xi32>, %fn: tensor<2x4x2xi32>,
                %fidx: tensor<2x4x2x1xi32>) {
  %0:3 = flash.attention_grad %q, %k, %v, %o, %do, %lse
      : tensor<2x4x64x32xbf16>, tensor<2x2x64x32xbf16>, tensor<2x2x64x32xbf16>,
        tensor<2x4x64x32xbf16>, tensor<2x4x64x32xbf16>, tensor<2x4x64xf32>
      -> tensor<2x4x64x32xbf16>, tensor<2x2x64x32xbf16>, tensor<2x2x64x32xbf16>
  // Every operand and attribute at once.
  %1:3 = flash.attention_grad %q, %k, %v, %o, %do, %lse
      mask(%m : tensor<2x1x64x64xf32>)
      block_sparse(%n, %idx : tensor<2x4x2xi32>, tensor<2x4x2x2xi32>)
      full(%fn, %fidx : tensor<2x4x2xi32>, tensor<2x4x2x1xi32>)
      {block_sizes = array<i64: 32, 32>,
       mask_kind = #flash.mask<sliding_window>, window = array<i64: 16, 4>,
       scale = 0.25 : f32, softcap = 30.0 : f32}
      : tensor<2x4x64x32xbf16>, tensor<2x2x64x32xbf16>, tensor<2x2x64x32xbf16>,
        tensor<2x4x64x32xbf16>, tensor<2x4x64x32xbf16>, tensor<2x4x64xf32>
      -> tensor<2x4x64x32xbf16>, tensor<2x2x64x32xbf16>, tensor<2x2x64x32xbf16>
  return
}

// CHECK-LABEL: func.func @layout
// CHECK: %{{.*}}, %{{.*}} = flash.block_sparse_layout %{{.*}} : tensor<2x4x8x8xi1> -> tensor<2x4x8xi32>, tensor<2x4x8x8xi32>
// CHECK: flash.block_sparse_layout %{{.*}} : tensor<?x1x?x?xi1> -> tensor<?x1x?xi32>, tensor<?x1x?x?xi32>
func.func @layout(%tiles: tensor<2x4x8x8xi1>, %dyn: tensor<?x1x?x?xi1>) {
  %n, %idx = flash.block_sparse_layout %tiles
      : tensor<2x4x8x8xi1> -> tensor<2x4x8xi32>, tensor<2x4x8x8xi32>
  %dn, %didx = flash.block_sparse_layout %dyn
      : tensor<?x1x?x?xi1> -> tensor<?x1x?xi32>, tensor<?x1x?x?xi32>
  return
}

// The plan that convert-flash-to-gpu stamps on the kernels it generates.
// CHECK-LABEL: func.func @kernel_plan
// CHECK-SAME: flash.kernel_plan = #flash.kernel_plan<cta_q = 64, cta_kv = 32, warps = 4, slices_per_warp = 1, stages = 3, query_in_registers = true, warpgroup_mma = false, min_ctas_per_sm = 2, scores_before_copies = false, copy_pointers = false>
func.func @kernel_plan() attributes {
    flash.kernel_plan = #flash.kernel_plan<cta_q = 64, cta_kv = 32,
      warps = 4, slices_per_warp = 1, stages = 3, query_in_registers = true,
      warpgroup_mma = false, min_ctas_per_sm = 2,
      scores_before_copies = false, copy_pointers = false>} {
  return
}
