// flash-to-ptx serializes the kernels to PTX with LLVM's NVPTX backend.
// RUN: flash-opt %s --flash-to-ptx="chip=sm_80" | FileCheck %s
// RUN: flash-opt %s --flash-to-ptx="chip=sm_80" \
// RUN:   | FileCheck %s --check-prefix=LIBDEVICE

// CHECK: gpu.binary @flash_kernels
// CHECK-SAME: #nvvm.target<O = 3, chip = "sm_80", features = "+ptx80">
// The dynamic shared memory is sized at launch, not a 1-byte variable.
// CHECK-SAME: .extern .shared .align 16 .b8 __dynamic_shmem__0[];
// CHECK-SAME: .entry flash_fwd_d64_f16_sliding_window_sm_80(
// CHECK-SAME: .maxntid 128, 1, 1
// CHECK-SAME: .minnctapersm 1
// The kernel's instructions, in whatever order the blocks are laid out.
// CHECK-DAG: cp.async.cg.shared.global
// CHECK-DAG: ldmatrix.sync.aligned.m8n8.x4.shared.b16
// CHECK-DAG: mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32
// CHECK-DAG: ex2.approx.ftz.f32
// CHECK-DAG: ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16
// CHECK-DAG: vote.sync.any.pred
// No libdevice calls: the PTX must link without CUDA.
// LIBDEVICE-NOT: __nv_
func.func @window(%q: tensor<1x4x300x64xf16>, %k: tensor<1x4x300x64xf16>,
                  %v: tensor<1x4x300x64xf16>) -> tensor<1x4x300x64xf16> {
  %o = flash.attention %q, %k, %v {mask_kind = #flash.mask<sliding_window>,
                                   window = array<i64: 32, 0>}
      : tensor<1x4x300x64xf16>, tensor<1x4x300x64xf16>, tensor<1x4x300x64xf16>
      -> tensor<1x4x300x64xf16>
  return %o : tensor<1x4x300x64xf16>
}
