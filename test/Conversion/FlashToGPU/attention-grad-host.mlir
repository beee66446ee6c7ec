// The host side of a lowered flash.attention_grad lowers with the upstream
// passes to the GPU runtime's calls: one stream, the zeroing of dlse and the
// three launches on it in order, one synchronization, the three workspaces
// freed. (A gpu.memset without an async dependency would be left unlowered
// by gpu-to-llvm.)
// RUN: flash-opt %s --flash-to-ptx="chip=sm_80" \
// RUN:     --one-shot-bufferize=bufferize-function-boundaries \
// RUN:     --convert-arith-to-llvm --gpu-to-llvm --finalize-memref-to-llvm \
// RUN:     --convert-func-to-llvm --reconcile-unrealized-casts \
// RUN:   | FileCheck %s --implicit-check-not=gpu.memset \
// RUN:       --implicit-check-not=gpu.wait \
// RUN:       --implicit-check-not=unrealized_conversion_cast \
// RUN:       --implicit-check-not='llvm.call @free'

// CHECK-LABEL: llvm.func @grad
// CHECK:         %[[S:.*]] = llvm.call @mgpuStreamCreate()
// CHECK:         llvm.call @mgpuMemset32({{.*}}, %[[S]])
// CHECK:         gpu.launch_func <%[[S]] : !llvm.ptr> @flash_kernels::@flash_bwd_d64_f16_causal_sm_80_preprocess blocks
// CHECK:         gpu.launch_func <%[[S]] : !llvm.ptr> @flash_kernels::@flash_bwd_d64_f16_causal_sm_80 blocks
// CHECK:         gpu.launch_func <%[[S]] : !llvm.ptr> @flash_kernels::@flash_bwd_d64_f16_causal_sm_80_dq blocks
// CHECK:         llvm.call @mgpuStreamSynchronize(%[[S]])
// CHECK:         llvm.call @mgpuStreamDestroy(%[[S]])
// CHECK-COUNT-3: llvm.call @free(
// CHECK:         llvm.return
func.func @grad(%q: tensor<1x4x96x64xf16>, %k: tensor<1x2x160x64xf16>,
                %v: tensor<1x2x160x64xf16>, %o: tensor<1x4x96x64xf16>,
                %do: tensor<1x4x96x64xf16>, %lse: tensor<1x4x96xf32>)
    -> (tensor<1x4x96x64xf16>, tensor<1x2x160x64xf16>,
        tensor<1x2x160x64xf16>) {
  %dq, %dk, %dv = flash.attention_grad %q, %k, %v, %o, %do, %lse
      {mask_kind = #flash.mask<causal>}
      : tensor<1x4x96x64xf16>, tensor<1x2x160x64xf16>, tensor<1x2x160x64xf16>,
        tensor<1x4x96x64xf16>, tensor<1x4x96x64xf16>, tensor<1x4x96xf32>
      -> tensor<1x4x96x64xf16>, tensor<1x2x160x64xf16>, tensor<1x2x160x64xf16>
  return %dq, %dk, %dv
      : tensor<1x4x96x64xf16>, tensor<1x2x160x64xf16>, tensor<1x2x160x64xf16>
}
