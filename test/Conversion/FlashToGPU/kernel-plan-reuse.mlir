// RUN: flash-opt %s -split-input-file --convert-flash-to-gpu="chip=sm_80" -verify-diagnostics | FileCheck %s

// A kernel already in @flash_kernels is launched again only if it has the
// plan that this run chose: one of an earlier run with other overrides is an
// error, not a launch with the wrong threads and shared memory.
module attributes {gpu.container_module} {
  gpu.module @flash_kernels {
    gpu.func @flash_fwd_d64_f16_causal_sm_80() kernel attributes {
        flash.kernel_plan = #flash.kernel_plan<cta_q = 64, cta_kv = 64,
          warps = 4, slices_per_warp = 1, stages = 2,
          query_in_registers = true, warpgroup_mma = false,
          min_ctas_per_sm = 1, scores_before_copies = false,
          copy_pointers = true>} {
      gpu.return
    }
  }
  func.func @other_plan(%q: tensor<1x2x128x64xf16>) -> tensor<1x2x128x64xf16> {
    // expected-error @below {{the kernel flash_fwd_d64_f16_causal_sm_80 exists already with another plan, #flash.kernel_plan<cta_q = 64, cta_kv = 64, warps = 4, slices_per_warp = 1, stages = 2, query_in_registers = true, warpgroup_mma = false, min_ctas_per_sm = 1, scores_before_copies = false, copy_pointers = true>}}
    %o = flash.attention %q, %q, %q {mask_kind = #flash.mask<causal>}
        : tensor<1x2x128x64xf16>, tensor<1x2x128x64xf16>, tensor<1x2x128x64xf16>
        -> tensor<1x2x128x64xf16>
    return %o : tensor<1x2x128x64xf16>
  }
}

// -----

// Two ops of one spec share its kernel.
// CHECK-LABEL: func.func @same_plan
// CHECK-COUNT-2: gpu.launch_func @flash_kernels::@flash_fwd_d64_f16_causal_sm_80
// CHECK-COUNT-1: gpu.func @flash_fwd_d64_f16_causal_sm_80
// CHECK-NOT:     gpu.func
func.func @same_plan(%q: tensor<1x2x128x64xf16>)
    -> (tensor<1x2x128x64xf16>, tensor<1x2x128x64xf16>) {
  %a = flash.attention %q, %q, %q {mask_kind = #flash.mask<causal>}
      : tensor<1x2x128x64xf16>, tensor<1x2x128x64xf16>, tensor<1x2x128x64xf16>
      -> tensor<1x2x128x64xf16>
  %b = flash.attention %q, %q, %q {mask_kind = #flash.mask<causal>}
      : tensor<1x2x128x64xf16>, tensor<1x2x128x64xf16>, tensor<1x2x128x64xf16>
      -> tensor<1x2x128x64xf16>
  return %a, %b : tensor<1x2x128x64xf16>, tensor<1x2x128x64xf16>
}
