// RUN: flash-opt %s --convert-flash-to-gpu="chip=sm_80" | FileCheck %s --check-prefix=SM80
// RUN: flash-opt %s --convert-flash-to-gpu="chip=sm_90a" | FileCheck %s --check-prefix=SM90A

// Each generated gpu.func carries the plan it was generated with, from the
// plan table (KernelPlan.cpp), as flash.kernel_plan: the manifest's config.
// mma.sync kernels: 16-row slices, two per warp where the registers allow.
// SM80-LABEL: gpu.func @flash_fwd_d64_f16_causal_sm_80
// SM80-SAME:    flash.kernel_plan = #flash.kernel_plan<cta_q = 128, cta_kv = 80, warps = 4, slices_per_warp = 2, stages = 2, query_in_registers = true, warpgroup_mma = false, min_ctas_per_sm = 1, scores_before_copies = false, copy_pointers = true>
// SM80-LABEL: gpu.func @flash_fwd_d128_bf16_none_sm_80
// SM80-SAME:    flash.kernel_plan = #flash.kernel_plan<cta_q = 128, cta_kv = 48, warps = 4, slices_per_warp = 2, stages = 2, query_in_registers = false, warpgroup_mma = false, min_ctas_per_sm = 1, scores_before_copies = false, copy_pointers = true>
// SM80-LABEL: gpu.func @flash_fwd_d256_f16_sliding_window_sm_80
// SM80-SAME:    flash.kernel_plan = #flash.kernel_plan<cta_q = 64, cta_kv = 32, warps = 4, slices_per_warp = 1, stages = 2, query_in_registers = false, warpgroup_mma = false, min_ctas_per_sm = 1, scores_before_copies = false, copy_pointers = true>
// SM80-LABEL: gpu.func @flash_fwd_d64_f16_none_sparse_sm_80
// SM80-SAME:    flash.kernel_plan = #flash.kernel_plan<cta_q = 128, cta_kv = 64, warps = 4, slices_per_warp = 2, stages = 2, query_in_registers = true, warpgroup_mma = false, min_ctas_per_sm = 1, scores_before_copies = false, copy_pointers = true>
// Warpgroup MMAs: 64-row slices per group of four warps, Q in shared memory.
// SM90A-LABEL: gpu.func @flash_fwd_d64_f16_causal_sm_90a
// SM90A-SAME:    flash.kernel_plan = #flash.kernel_plan<cta_q = 128, cta_kv = 96, warps = 4, slices_per_warp = 2, stages = 2, query_in_registers = false, warpgroup_mma = true, min_ctas_per_sm = 1, scores_before_copies = true, copy_pointers = true>
// SM90A-LABEL: gpu.func @flash_fwd_d128_bf16_none_sm_90a
// SM90A-SAME:    flash.kernel_plan = #flash.kernel_plan<cta_q = 128, cta_kv = 48, warps = 4, slices_per_warp = 2, stages = 2, query_in_registers = false, warpgroup_mma = true, min_ctas_per_sm = 1, scores_before_copies = true, copy_pointers = true>
// SM90A-LABEL: gpu.func @flash_fwd_d256_f16_sliding_window_sm_90a
// SM90A-SAME:    flash.kernel_plan = #flash.kernel_plan<cta_q = 128, cta_kv = 16, warps = 8, slices_per_warp = 1, stages = 2, query_in_registers = false, warpgroup_mma = true, min_ctas_per_sm = 1, scores_before_copies = true, copy_pointers = true>
// SM90A-LABEL: gpu.func @flash_fwd_d64_f16_none_sparse_sm_90a
// SM90A-SAME:    flash.kernel_plan = #flash.kernel_plan<cta_q = 64, cta_kv = 64, warps = 4, slices_per_warp = 1, stages = 2, query_in_registers = false, warpgroup_mma = true, min_ctas_per_sm = 5, scores_before_copies = true, copy_pointers = true>
func.func @kernels(%q64: tensor<2x8x1000x64xf16>, %q128: tensor<2x8x1000x128xbf16>,
                   %q256: tensor<1x4x512x256xf16>, %n: tensor<1x1x8xi32>,
                   %i: tensor<1x1x8x8xi32>)
    -> (tensor<2x8x1000x64xf16>, tensor<2x8x1000x128xbf16>,
        tensor<1x4x512x256xf16>, tensor<2x8x1000x64xf16>) {
  %a = flash.attention %q64, %q64, %q64 {mask_kind = #flash.mask<causal>}
      : tensor<2x8x1000x64xf16>, tensor<2x8x1000x64xf16>, tensor<2x8x1000x64xf16>
      -> tensor<2x8x1000x64xf16>
  %b = flash.attention %q128, %q128, %q128
      : tensor<2x8x1000x128xbf16>, tensor<2x8x1000x128xbf16>, tensor<2x8x1000x128xbf16>
      -> tensor<2x8x1000x128xbf16>
  %c = flash.attention %q256, %q256, %q256
      {mask_kind = #flash.mask<sliding_window>, window = array<i64: 64, 0>}
      : tensor<1x4x512x256xf16>, tensor<1x4x512x256xf16>, tensor<1x4x512x256xf16>
      -> tensor<1x4x512x256xf16>
  %d = flash.attention %q64, %q64, %q64
      block_sparse(%n, %i : tensor<1x1x8xi32>, tensor<1x1x8x8xi32>)
      {block_sizes = array<i64: 128, 128>}
      : tensor<2x8x1000x64xf16>, tensor<2x8x1000x64xf16>, tensor<2x8x1000x64xf16>
      -> tensor<2x8x1000x64xf16>
  return %a, %b, %c, %d : tensor<2x8x1000x64xf16>, tensor<2x8x1000x128xbf16>,
      tensor<1x4x512x256xf16>, tensor<2x8x1000x64xf16>
}
