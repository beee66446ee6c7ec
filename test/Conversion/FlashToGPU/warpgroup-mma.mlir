// On sm_90a the kernels run their products as Hopper warpgroup MMAs: one
// warpgroup of two 64-row slices (128 query rows, 128 threads), Q, K and V
// read from 1024-byte aligned, 128-byte-swizzled shared memory (66560 bytes:
// Q, two stages of 96-key K and V tiles, and 1024 bytes of alignment slack).
// Where the plan says so (KernelPlan::scoresBeforeCopies), a tile's Q Kᵀ is
// issued before the next tile's copies and waited for after them: at D = 64,
// not under the causal mask at D = 128.
// RUN: flash-opt %s --convert-flash-to-gpu="chip=sm_90a" | FileCheck %s
// RUN: flash-opt %s --flash-to-ptx="chip=sm_90a" | FileCheck %s --check-prefix=PTX

// CHECK-LABEL: func.func @causal_f16
// CHECK:         gpu.launch_func @flash_kernels::@flash_fwd_d64_f16_causal_sm_90a
// CHECK-SAME:      threads in (%c128{{[_0-9]*}}, %c1{{[_0-9]*}}, %c1{{[_0-9]*}})
// CHECK-SAME:      dynamic_shared_memory_size %c66560_i32
// CHECK:       gpu.func @flash_fwd_d64_f16_causal_sm_90a
// CHECK:         %[[SMEM:.*]] = gpu.dynamic_shared_memory
// CHECK:         memref.extract_aligned_pointer_as_index %[[SMEM]]
// CHECK:         memref.view {{.*}} to memref<1x128x64xf16, #gpu.address_space<workgroup>>
// CHECK:         memref.view {{.*}} to memref<2x1x96x64xf16, #gpu.address_space<workgroup>>
// CHECK:         nvgpu.device_async_copy
// CHECK:         scf.for
// CHECK:           nvvm.cp.async.wait.group 0
// CHECK-NEXT:      nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
// CHECK-NEXT:      gpu.barrier
// CHECK:           nvvm.wgmma.fence.aligned
// CHECK:           nvvm.wgmma.mma_async {{.*}}, <m = 64, n = 96, k = 16>, D[<f32>, <zero>], A[<f16>, <one>, <row>], B[<f16>, <one>, <col>]
// CHECK:           nvvm.wgmma.mma_async {{.*}}, <m = 64, n = 96, k = 16>, D[<f32>, <one>], A[<f16>, <one>, <row>], B[<f16>, <one>, <col>]
// CHECK:           nvvm.wgmma.commit.group.sync.aligned
// CHECK-NEXT:      arith.constant
// CHECK:           nvvm.cp.async.shared.global
// CHECK:           nvvm.cp.async.commit.group
// CHECK:           nvvm.wgmma.wait.group.sync.aligned 0
// CHECK:           llvm.call_intrinsic "llvm.nvvm.ex2.approx.ftz.f"
// CHECK:           nvvm.wgmma.fence.aligned
// CHECK:           llvm.inline_asm has_side_effects {{.*}}wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16
// CHECK:           nvvm.wgmma.commit.group.sync.aligned
// CHECK-NEXT:      nvvm.wgmma.wait.group.sync.aligned 0

// PTX: .target sm_90a
// PTX: .entry flash_fwd_d64_f16_causal_sm_90a(
// PTX-DAG: fence.proxy.async.shared::cta
// PTX-DAG: wgmma.fence.sync.aligned
// PTX-DAG: wgmma.mma_async.sync.aligned.m64n96k16.f32.f16.f16 {{[^;]*}}, %rd{{[0-9]+}}, %rd{{[0-9]+}},
// PTX-DAG: wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 {{[^;]*}}, {%r{{[0-9]+}}, %r{{[0-9]+}}, %r{{[0-9]+}}, %r{{[0-9]+}}}, %rd{{[0-9]+}}, p, 1, 1, 1;
// PTX-DAG: wgmma.commit_group.sync.aligned
// PTX-DAG: wgmma.wait_group.sync.aligned {{[^;]*}}0;
func.func @causal_f16(%q: tensor<2x8x1000x64xf16>, %k: tensor<2x2x1000x64xf16>,
                      %v: tensor<2x2x1000x64xf16>)
    -> (tensor<2x8x1000x64xf16>, tensor<2x8x1000xf32>) {
  %o, %lse = flash.attention %q, %k, %v {mask_kind = #flash.mask<causal>}
      : tensor<2x8x1000x64xf16>, tensor<2x2x1000x64xf16>, tensor<2x2x1000x64xf16>
      -> tensor<2x8x1000x64xf16>, tensor<2x8x1000xf32>
  return %o, %lse : tensor<2x8x1000x64xf16>, tensor<2x8x1000xf32>
}

// The second module function's kernel follows the first's.
// CHECK:       gpu.func @flash_fwd_d128_f16_causal_sm_90a
// CHECK:         scf.for
// CHECK:           gpu.barrier
// CHECK:           nvvm.cp.async.shared.global
// CHECK:           nvvm.cp.async.commit.group
// CHECK:           nvvm.wgmma.fence.aligned
// CHECK:           nvvm.wgmma.commit.group.sync.aligned
// CHECK-NEXT:      nvvm.wgmma.wait.group.sync.aligned 0
func.func @causal_d128_f16(%q: tensor<1x2x300x128xf16>,
                           %k: tensor<1x2x300x128xf16>,
                           %v: tensor<1x2x300x128xf16>)
    -> (tensor<1x2x300x128xf16>, tensor<1x2x300xf32>) {
  %o, %lse = flash.attention %q, %k, %v {mask_kind = #flash.mask<causal>}
      : tensor<1x2x300x128xf16>, tensor<1x2x300x128xf16>, tensor<1x2x300x128xf16>
      -> tensor<1x2x300x128xf16>, tensor<1x2x300xf32>
  return %o, %lse : tensor<1x2x300x128xf16>, tensor<1x2x300xf32>
}
