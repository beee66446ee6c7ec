// flash-to-ptx serializes the backward kernels of flash.attention_grad too.
// On a chip with warpgroup MMAs, whose backward kernels add into the dQ
// workspace with PTX 8.1's vector reductions, the PTX is 8.1 unless the
// features are given.
// RUN: flash-opt %s --flash-to-ptx="chip=sm_90a" | FileCheck %s --check-prefix=SM90A
// RUN: flash-opt %s --flash-to-ptx="chip=sm_90a features=+ptx83" | FileCheck %s --check-prefix=GIVEN
// RUN: flash-opt %s --flash-to-ptx="chip=sm_80" | FileCheck %s --check-prefix=SM80

// SM90A: gpu.binary @flash_kernels
// SM90A-SAME: #nvvm.target<O = 3, chip = "sm_90a", features = "+ptx81">
// SM90A-SAME: .version 8.1
// SM90A-SAME: .entry flash_bwd_d64_f16_causal_sm_90a_preprocess(
// SM90A-SAME: .entry flash_bwd_d64_f16_causal_sm_90a(
// SM90A-SAME: red.global.add.v2.f32
// SM90A-SAME: .entry flash_bwd_d64_f16_causal_sm_90a_dq(
// GIVEN: #nvvm.target<O = 3, chip = "sm_90a", features = "+ptx83">
// GIVEN-SAME: .version 8.3
// SM80: #nvvm.target<O = 3, chip = "sm_80", features = "+ptx80">
// SM80-SAME: .entry flash_bwd_d64_f16_causal_sm_80(
// SM80-SAME: atom.global.add.f32
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
