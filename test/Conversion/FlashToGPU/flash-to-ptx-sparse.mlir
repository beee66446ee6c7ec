// A block-sparse kernel through NVPTX: the layout's lists are read from
// global memory once into shared-memory bitmaps (atom.shared.or), the live
// tiles listed with ballots and popcounts, and the key loop reads its tiles
// from there while cp.async double-buffers K and V for the tensor cores.
// RUN: flash-opt %s --flash-to-ptx="chip=sm_80" | FileCheck %s

// CHECK: gpu.binary @flash_kernels
// CHECK-SAME: .entry flash_fwd_d64_f16_sliding_window_sparse_sm_80(
// CHECK-SAME: cp.async.cg.shared.global
// CHECK-SAME: ld.global.b32
// CHECK-SAME: atom.shared.or.b32
// CHECK-SAME: bar.sync
// CHECK-SAME: vote.sync.ballot.b32
// CHECK-SAME: popc.b32
// CHECK-SAME: ld.shared.b32
// CHECK-SAME: cp.async.cg.shared.global
// CHECK-SAME: cp.async.wait_group
// CHECK-SAME: mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32
// CHECK-SAME: ex2.approx.ftz.f32
// CHECK-NOT: __nv_
func.func @window(%q: tensor<1x4x300x64xf16>, %k: tensor<1x4x300x64xf16>,
                  %v: tensor<1x4x300x64xf16>, %n: tensor<1x4x3xi32>,
                  %i: tensor<1x4x3x3xi32>, %fn: tensor<1x4x3xi32>,
                  %fi: tensor<1x4x3x3xi32>) -> tensor<1x4x300x64xf16> {
  %o = flash.attention %q, %k, %v
      block_sparse(%n, %i : tensor<1x4x3xi32>, tensor<1x4x3x3xi32>)
      full(%fn, %fi : tensor<1x4x3xi32>, tensor<1x4x3x3xi32>)
      {mask_kind = #flash.mask<sliding_window>, window = array<i64: 32, 0>,
       block_sizes = array<i64: 128, 128>}
      : tensor<1x4x300x64xf16>, tensor<1x4x300x64xf16>, tensor<1x4x300x64xf16>
      -> tensor<1x4x300x64xf16>
  return %o : tensor<1x4x300x64xf16>
}
