// RUN: flash-opt %s -split-input-file --convert-flash-to-gpu="chip=sm_80" | FileCheck %s --check-prefix=TABLE
// RUN: flash-opt %s -split-input-file --convert-flash-to-gpu="chip=sm_80 cta-kv=32 min-ctas-per-sm=2" | FileCheck %s --check-prefix=TILES
// RUN: flash-opt %s -split-input-file --convert-flash-to-gpu="chip=sm_80 warps=8 cta-q=128 cta-kv=64" | FileCheck %s --check-prefix=WARPS
// RUN: flash-opt %s -split-input-file --convert-flash-to-gpu="chip=sm_90a warpgroup-mma=no cta-kv=48" -verify-diagnostics | FileCheck %s --check-prefix=MMA
// RUN: not flash-opt %s -split-input-file --convert-flash-to-gpu="chip=sm_80 cta-kv=40" 2>&1 | FileCheck %s --check-prefix=INVALID
// RUN: not flash-opt %s --convert-flash-to-gpu="chip=sm_80 stages=many" 2>&1 | FileCheck %s --check-prefix=VALUE
// Sizes out of their range are errors of the option (issue 25): 0 is not
// "the plan table's" (an option not given is), and a huge warps made the
// plan's arithmetic overflow into a division by zero (SIGFPE).
// RUN: not flash-opt %s --convert-flash-to-gpu="chip=sm_80 stages=0" 2>&1 | FileCheck %s --check-prefix=STAGES-ZERO
// RUN: not flash-opt %s --convert-flash-to-gpu="chip=sm_80 cta-q=0" 2>&1 | FileCheck %s --check-prefix=CTA-Q-ZERO
// RUN: not flash-opt %s --convert-flash-to-gpu="chip=sm_80 stages=5" 2>&1 | FileCheck %s --check-prefix=STAGES-FIVE
// RUN: not flash-opt %s --convert-flash-to-gpu="chip=sm_80 warps=1152921504606846976" 2>&1 | FileCheck %s --check-prefix=WARPS-HUGE
// RUN: not flash-opt %s --convert-flash-to-gpu="chip=sm_80 cta-kv=-16" 2>&1 | FileCheck %s --check-prefix=CTA-KV-NEGATIVE
// RUN: not flash-opt %s --convert-flash-to-gpu="chip=sm_80 min-ctas-per-sm=33" 2>&1 | FileCheck %s --check-prefix=MIN-CTAS

// The options other than chip override the plan table's plan of every kernel
// the pass generates. The plan table: 128 query rows of four warps, 80-key
// tiles, two stages: 128 · (128 + 2 · 2 · 80) bytes of shared memory.
// TABLE-LABEL: func.func @causal
// TABLE:         gpu.launch_func @flash_kernels::@flash_fwd_d64_f16_causal_sm_80
// TABLE-SAME:      threads in (%c128{{[_0-9]*}}, %c1{{[_0-9]*}}, %c1{{[_0-9]*}})
// TABLE-SAME:      dynamic_shared_memory_size %c57344_i32
// 32-key tiles, 128 · (128 + 2 · 2 · 32) bytes, and two CTAs per SM.
// TILES:         gpu.launch_func @flash_kernels::@flash_fwd_d64_f16_causal_sm_80
// TILES-SAME:      dynamic_shared_memory_size %c32768_i32
// TILES:         gpu.func @flash_fwd_d64_f16_causal_sm_80
// TILES-SAME:      flash.kernel_plan = #flash.kernel_plan<cta_q = 128, cta_kv = 32, warps = 4, slices_per_warp = 2, stages = 2, query_in_registers = true, warpgroup_mma = false, min_ctas_per_sm = 2, scores_before_copies = false, copy_pointers = true>
// TILES-SAME:      nvvm.minctasm = 2
// Eight warps of one 16-row slice, with 64-key tiles (80 rows do not split
// over 256 threads).
// WARPS:         gpu.launch_func @flash_kernels::@flash_fwd_d64_f16_causal_sm_80
// WARPS-SAME:      threads in (%c256{{[_0-9]*}}, %c1{{[_0-9]*}}, %c1{{[_0-9]*}})
// WARPS:         gpu.func @flash_fwd_d64_f16_causal_sm_80
// WARPS-SAME:      flash.kernel_plan = #flash.kernel_plan<cta_q = 128, cta_kv = 64, warps = 8, slices_per_warp = 1,
// mma.sync on sm_90a, with 48-key tiles.
// MMA:           gpu.launch_func @flash_kernels::@flash_fwd_d64_f16_causal_sm_90a
// MMA-SAME:        dynamic_shared_memory_size %c40960_i32
// MMA:           gpu.func @flash_fwd_d64_f16_causal_sm_90a
// MMA-SAME:        flash.kernel_plan = #flash.kernel_plan<cta_q = 128, cta_kv = 48, warps = 4, slices_per_warp = 2, stages = 2, query_in_registers = true, warpgroup_mma = false, min_ctas_per_sm = 1, scores_before_copies = false, copy_pointers = true>
// MMA-NOT:         wgmma
// MMA:             nvvm.mma.sync
// MMA-NOT:         wgmma
// An override the plan cannot take is an error at the op, naming the kernel
// and the overrides; a value the option parser rejects, the parser's error.
// INVALID: error: invalid plan for flash_fwd_d64_f16_causal_sm_80 with cta-kv=40: cta-kv must be a positive multiple of 16, got 40
// INVALID: error: invalid plan for flash_fwd_d64_f16_none_sparse_sm_80 with cta-kv=40: cta-kv must be a positive multiple of 16, got 40
// VALUE: for the --stages option: 'many' value invalid for long argument!
// STAGES-ZERO: error: convert-flash-to-gpu: stages must be in [2, 4], got 0
// CTA-Q-ZERO: error: convert-flash-to-gpu: cta-q must be in [16, 4096], got 0
// STAGES-FIVE: error: convert-flash-to-gpu: stages must be in [2, 4], got 5
// WARPS-HUGE: error: convert-flash-to-gpu: warps must be in [1, 32], got 1152921504606846976
// CTA-KV-NEGATIVE: error: convert-flash-to-gpu: cta-kv must be in [16, 4096], got -16
// MIN-CTAS: error: convert-flash-to-gpu: min-ctas-per-sm must be in [1, 32], got 33
func.func @causal(%q: tensor<2x8x1000x64xf16>, %k: tensor<2x2x1000x64xf16>,
                  %v: tensor<2x2x1000x64xf16>) -> tensor<2x8x1000x64xf16> {
  %o = flash.attention %q, %k, %v {mask_kind = #flash.mask<causal>}
      : tensor<2x8x1000x64xf16>, tensor<2x2x1000x64xf16>, tensor<2x2x1000x64xf16>
      -> tensor<2x8x1000x64xf16>
  return %o : tensor<2x8x1000x64xf16>
}

// -----

// A layout is checked against the overridden plan: 128-key blocks do not
// split into 48-key tiles, and the op stays in place.
func.func @layout(%q: tensor<1x2x256x64xf16>, %n: tensor<1x1x2xi32>,
                  %i: tensor<1x1x2x2xi32>) -> tensor<1x2x256x64xf16> {
  // expected-remark @below {{not lowered to a GPU kernel: the layout's block_kv (128) must be a positive multiple of the kernel's cta_kv (48 keys per tile)}}
  %o = flash.attention %q, %q, %q
      block_sparse(%n, %i : tensor<1x1x2xi32>, tensor<1x1x2x2xi32>)
      {block_sizes = array<i64: 128, 128>}
      : tensor<1x2x256x64xf16>, tensor<1x2x256x64xf16>, tensor<1x2x256x64xf16>
      -> tensor<1x2x256x64xf16>
  return %o : tensor<1x2x256x64xf16>
}
