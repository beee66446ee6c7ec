// RUN: flash-opt %s -split-input-file --convert-flash-to-gpu="chip=sm_80" -verify-diagnostics | FileCheck %s
// RUN: flash-opt %s -split-input-file --convert-flash-to-gpu="chip=sm_90a" 2>/dev/null | FileCheck %s --check-prefix=SM90A

// flash.attention_grad becomes the three backward kernels of its spec,
// launched in order on one stream with one argument list
// (docs/kernel-abi.md, "Backward kernels"): q, k, v, o, do, lse, dlse (a
// zeroed buffer), delta and the dQ accumulator (f32 workspaces, freed after
// the launches), dq, dk, dv, scale · log2(e), the window and no dQ
// semaphores. Grouped-query: the main kernel's grid has one CTA row per KV
// head (2), the others one per query head (8).
// CHECK-LABEL: func.func @gqa_causal
// CHECK:         %[[Q:.*]] = memref.cast %{{.*}} : memref<3x8x200x64xf16> to memref<?x?x?x?xf16, strided<[?, ?, ?, 1], offset: ?>>
// CHECK:         %[[K:.*]] = memref.cast %{{.*}} : memref<3x2x300x64xf16> to
// CHECK:         %[[V:.*]] = memref.cast %{{.*}} : memref<3x2x300x64xf16> to
// CHECK:         %[[O:.*]] = memref.cast %{{.*}} : memref<3x8x200x64xf16> to
// CHECK:         %[[DO:.*]] = memref.cast %{{.*}} : memref<3x8x200x64xf16> to
// CHECK:         %[[LSE:.*]] = memref.cast %{{.*}} : memref<3x8x200xf32> to memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>
// CHECK:         %[[DQ:.*]] = memref.alloc() : memref<3x8x200x64xf16>
// CHECK:         %[[DQ_ARG:.*]] = memref.cast %[[DQ]]
// CHECK:         %[[DK:.*]] = memref.alloc() : memref<3x2x300x64xf16>
// CHECK:         %[[DK_ARG:.*]] = memref.cast %[[DK]]
// CHECK:         %[[DV:.*]] = memref.alloc() : memref<3x2x300x64xf16>
// CHECK:         %[[DV_ARG:.*]] = memref.cast %[[DV]]
// CHECK:         %[[DELTA:.*]] = memref.alloc() : memref<3x8x200xf32>
// CHECK:         %[[DELTA_ARG:.*]] = memref.cast %[[DELTA]]
// CHECK:         %[[ACCUM:.*]] = memref.alloc() : memref<3x8x200x64xf32>
// CHECK:         %[[ACCUM_ARG:.*]] = memref.cast %[[ACCUM]] : memref<3x8x200x64xf32> to memref<?x?x?x?xf32, strided<[?, ?, ?, 1], offset: ?>>
// CHECK:         %[[DLSE:.*]] = memref.alloc() : memref<3x8x200xf32>
// CHECK:         %[[DLSE_ARG:.*]] = memref.cast %[[DLSE]]
// CHECK:         %[[SCALE:.*]] = arith.constant 0.180336878 : f32
// CHECK:         %[[LEFT:.*]] = arith.constant 0 : i64
// CHECK:         %[[RIGHT:.*]] = arith.constant 0 : i64
// CHECK:         %[[SEMAPHORES:.*]] = arith.constant 0 : i64
// CHECK:         %[[ROW_TILES:.*]] = arith.ceildivui %c200, %c16 : index
// CHECK:         %[[KEY_TILES:.*]] = arith.ceildivui %c300, %c128 : index
// CHECK:         %[[NO_SMEM:.*]] = arith.constant 0 : i32
// CHECK:         %[[SMEM:.*]] = arith.constant 82944 : i32
// CHECK:         %[[T0:.*]] = gpu.wait async
// CHECK:         %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK:         %[[T1:.*]] = gpu.memset async [%[[T0]]] %[[DLSE]], %[[ZERO]] : memref<3x8x200xf32>, f32
// CHECK:         %[[T2:.*]] = gpu.launch_func async [%[[T1]]] @flash_kernels::@flash_bwd_d64_f16_causal_sm_80_preprocess
// CHECK-SAME:      blocks in (%[[ROW_TILES]], %c8{{(_[0-9]+)?}}, %c3{{(_[0-9]+)?}}) threads in (%c128{{(_[0-9]+)?}}, %c1{{(_[0-9]+)?}}, %c1{{(_[0-9]+)?}})
// CHECK-SAME:      dynamic_shared_memory_size %[[NO_SMEM]]
// CHECK-SAME:      args(%[[Q]] : {{.*}}, %[[K]] : {{.*}}, %[[V]] : {{.*}}, %[[O]] : {{.*}}, %[[DO]] : {{.*}}, %[[LSE]] : {{.*}}, %[[DLSE_ARG]] : {{.*}}, %[[DELTA_ARG]] : {{.*}}, %[[ACCUM_ARG]] : {{.*}}, %[[DQ_ARG]] : {{.*}}, %[[DK_ARG]] : {{.*}}, %[[DV_ARG]] : {{.*}}, %[[SCALE]] : f32, %[[LEFT]] : i64, %[[RIGHT]] : i64, %[[SEMAPHORES]] : i64)
// CHECK:         %[[T3:.*]] = gpu.launch_func async [%[[T2]]] @flash_kernels::@flash_bwd_d64_f16_causal_sm_80
// CHECK-SAME:      blocks in (%[[KEY_TILES]], %c2{{(_[0-9]+)?}}, %c3{{(_[0-9]+)?}}) threads in (%c256, %c1{{(_[0-9]+)?}}, %c1{{(_[0-9]+)?}})
// CHECK-SAME:      dynamic_shared_memory_size %[[SMEM]]
// CHECK-SAME:      args(%[[Q]] : {{.*}}, %[[DLSE_ARG]] : {{.*}}, %[[SEMAPHORES]] : i64)
// CHECK:         %[[T4:.*]] = gpu.launch_func async [%[[T3]]] @flash_kernels::@flash_bwd_d64_f16_causal_sm_80_dq
// CHECK-SAME:      blocks in (%[[ROW_TILES]], %c8{{(_[0-9]+)?}}, %c3{{(_[0-9]+)?}}) threads in (%c128{{(_[0-9]+)?}}, %c1{{(_[0-9]+)?}}, %c1{{(_[0-9]+)?}})
// CHECK-SAME:      dynamic_shared_memory_size %[[NO_SMEM]]
// CHECK-SAME:      args(%[[Q]] : {{.*}}, %[[SEMAPHORES]] : i64)
// CHECK:         gpu.wait [%[[T4]]]
// CHECK:         memref.dealloc %[[DELTA]]
// CHECK:         memref.dealloc %[[ACCUM]]
// CHECK:         memref.dealloc %[[DLSE]]
// CHECK:         %[[DQ_T:.*]] = bufferization.to_tensor %[[DQ]] restrict writable : memref<3x8x200x64xf16> to tensor<3x8x200x64xf16>
// CHECK:         %[[DK_T:.*]] = bufferization.to_tensor %[[DK]] restrict writable
// CHECK:         %[[DV_T:.*]] = bufferization.to_tensor %[[DV]] restrict writable
// CHECK:         return %[[DQ_T]], %[[DK_T]], %[[DV_T]]
// CHECK:       gpu.module @flash_kernels
// CHECK:         gpu.func @flash_bwd_d64_f16_causal_sm_80_preprocess(
// CHECK-SAME:      known_block_size = array<i32: 128, 1, 1>
// CHECK:         gpu.func @flash_bwd_d64_f16_causal_sm_80(
// CHECK-SAME:      known_block_size = array<i32: 256, 1, 1>
// CHECK:           nvvm.mma.sync
// CHECK:         gpu.func @flash_bwd_d64_f16_causal_sm_80_dq(
// CHECK-SAME:      known_block_size = array<i32: 128, 1, 1>
// On sm_90a the main kernel's products are warpgroup MMAs, whose tiles are
// aligned to 1024 bytes: 1024 more bytes of shared memory.
// SM90A-LABEL: func.func @gqa_causal
// SM90A:         gpu.launch_func async {{.*}} @flash_kernels::@flash_bwd_d64_f16_causal_sm_90a_preprocess
// SM90A:         gpu.launch_func async {{.*}} @flash_kernels::@flash_bwd_d64_f16_causal_sm_90a
// SM90A-SAME:      threads in (%c256
// SM90A-SAME:      dynamic_shared_memory_size %c83968_i32
// SM90A:         gpu.launch_func async {{.*}} @flash_kernels::@flash_bwd_d64_f16_causal_sm_90a_dq
// SM90A:         gpu.func @flash_bwd_d64_f16_causal_sm_90a(
// SM90A:           nvvm.wgmma.mma_async
func.func @gqa_causal(%q: tensor<3x8x200x64xf16>, %k: tensor<3x2x300x64xf16>,
                      %v: tensor<3x2x300x64xf16>, %o: tensor<3x8x200x64xf16>,
                      %do: tensor<3x8x200x64xf16>, %lse: tensor<3x8x200xf32>)
    -> (tensor<3x8x200x64xf16>, tensor<3x2x300x64xf16>,
        tensor<3x2x300x64xf16>) {
  %dq, %dk, %dv = flash.attention_grad %q, %k, %v, %o, %do, %lse
      {mask_kind = #flash.mask<causal>}
      : tensor<3x8x200x64xf16>, tensor<3x2x300x64xf16>, tensor<3x2x300x64xf16>,
        tensor<3x8x200x64xf16>, tensor<3x8x200x64xf16>, tensor<3x8x200xf32>
      -> tensor<3x8x200x64xf16>, tensor<3x2x300x64xf16>, tensor<3x2x300x64xf16>
  return %dq, %dk, %dv
      : tensor<3x8x200x64xf16>, tensor<3x2x300x64xf16>, tensor<3x2x300x64xf16>
}

// -----

// Dynamic extents are read off q (dq, the workspaces, the grid of the row
// kernels), k (dk, the main kernel's grid) and v (dv). The scale and the
// window's sides reach the kernels as arguments.
// CHECK-LABEL: func.func @dynamic_window
// CHECK-DAG:     %[[QB:.*]] = bufferization.to_buffer %arg0 read_only : tensor<?x?x?x128xbf16> to memref<?x?x?x128xbf16>
// CHECK-DAG:     %[[KB:.*]] = bufferization.to_buffer %arg1 read_only
// CHECK-DAG:     %[[VB:.*]] = bufferization.to_buffer %arg2 read_only
// CHECK:         %[[B:.*]] = memref.dim %[[QB]], %c0{{(_[0-9]+)?}}
// CHECK:         %[[HQ:.*]] = memref.dim %[[QB]], %c1{{(_[0-9]+)?}}
// CHECK:         %[[LQ:.*]] = memref.dim %[[QB]], %c2{{(_[0-9]+)?}}
// CHECK:         memref.alloc(%[[B]], %[[HQ]], %[[LQ]]) : memref<?x?x?x128xbf16>
// CHECK:         %[[KB0:.*]] = memref.dim %[[KB]], %c0{{(_[0-9]+)?}}
// CHECK:         %[[HKV:.*]] = memref.dim %[[KB]], %c1{{(_[0-9]+)?}}
// CHECK:         %[[LK:.*]] = memref.dim %[[KB]], %c2{{(_[0-9]+)?}}
// CHECK:         memref.alloc(%[[KB0]], %[[HKV]], %[[LK]]) : memref<?x?x?x128xbf16>
// CHECK:         %[[VB0:.*]] = memref.dim %[[VB]], %c0{{(_[0-9]+)?}}
// CHECK:         %[[VH:.*]] = memref.dim %[[VB]], %c1{{(_[0-9]+)?}}
// CHECK:         %[[VL:.*]] = memref.dim %[[VB]], %c2{{(_[0-9]+)?}}
// CHECK:         memref.alloc(%[[VB0]], %[[VH]], %[[VL]]) : memref<?x?x?x128xbf16>
// CHECK:         memref.alloc({{.*}}) : memref<?x?x?xf32>
// CHECK:         memref.alloc({{.*}}) : memref<?x?x?x128xf32>
// CHECK:         memref.alloc({{.*}}) : memref<?x?x?xf32>
// CHECK:         %[[SCALE:.*]] = arith.constant 0.72134751 : f32
// CHECK:         %[[LEFT:.*]] = arith.constant 100 : i64
// CHECK:         %[[RIGHT:.*]] = arith.constant 0 : i64
// CHECK:         %[[LQ2:.*]] = memref.dim %[[QB]], %c2
// CHECK:         %[[ROW_TILES:.*]] = arith.ceildivui %[[LQ2]], %c16 : index
// CHECK:         %[[HQ2:.*]] = memref.dim %[[QB]], %c1
// CHECK:         %[[B2:.*]] = memref.dim %[[QB]], %c0
// CHECK:         %[[LK2:.*]] = memref.dim %[[KB]], %c2
// CHECK:         %[[KEY_TILES:.*]] = arith.ceildivui %[[LK2]], %c128 : index
// CHECK:         %[[HKV2:.*]] = memref.dim %[[KB]], %c1
// CHECK:         %[[KB2:.*]] = memref.dim %[[KB]], %c0
// CHECK:         gpu.launch_func async {{.*}}_preprocess blocks in (%[[ROW_TILES]], %[[HQ2]], %[[B2]])
// CHECK-SAME:      %[[SCALE]] : f32, %[[LEFT]] : i64, %[[RIGHT]] : i64, %{{.*}} : i64)
// CHECK:         gpu.launch_func async {{.*}}@flash_bwd_d128_bf16_sliding_window_sm_80 blocks in (%[[KEY_TILES]], %[[HKV2]], %[[KB2]])
// CHECK:         gpu.launch_func async {{.*}}_dq blocks in (%[[ROW_TILES]], %[[HQ2]], %[[B2]])
func.func @dynamic_window(%q: tensor<?x?x?x128xbf16>, %k: tensor<?x?x?x128xbf16>,
                          %v: tensor<?x?x?x128xbf16>, %o: tensor<?x?x?x128xbf16>,
                          %do: tensor<?x?x?x128xbf16>, %lse: tensor<?x?x?xf32>)
    -> (tensor<?x?x?x128xbf16>, tensor<?x?x?x128xbf16>,
        tensor<?x?x?x128xbf16>) {
  %dq, %dk, %dv = flash.attention_grad %q, %k, %v, %o, %do, %lse
      {mask_kind = #flash.mask<sliding_window>, window = array<i64: 100, 0>,
       scale = 0.5 : f32}
      : tensor<?x?x?x128xbf16>, tensor<?x?x?x128xbf16>, tensor<?x?x?x128xbf16>,
        tensor<?x?x?x128xbf16>, tensor<?x?x?x128xbf16>, tensor<?x?x?xf32>
      -> tensor<?x?x?x128xbf16>, tensor<?x?x?x128xbf16>, tensor<?x?x?x128xbf16>
  return %dq, %dk, %dv
      : tensor<?x?x?x128xbf16>, tensor<?x?x?x128xbf16>, tensor<?x?x?x128xbf16>
}

// -----

// The kernels of a spec are built once, beside the forward kernel of the
// same spec: every op launches them.
// CHECK-LABEL: func.func @reuse
// CHECK:         gpu.launch_func @flash_kernels::@flash_fwd_d64_f16_none_sm_80 blocks
// CHECK-COUNT-2: gpu.launch_func async {{.*}} @flash_kernels::@flash_bwd_d64_f16_none_sm_80 blocks
// CHECK:       gpu.module @flash_kernels
// CHECK-COUNT-1: gpu.func @flash_fwd_d64_f16_none_sm_80(
// CHECK-COUNT-1: gpu.func @flash_bwd_d64_f16_none_sm_80_preprocess(
// CHECK-COUNT-1: gpu.func @flash_bwd_d64_f16_none_sm_80(
// CHECK-COUNT-1: gpu.func @flash_bwd_d64_f16_none_sm_80_dq(
// CHECK-NOT:     gpu.func
func.func @reuse(%h: tensor<1x2x64x64xf16>, %lse: tensor<1x2x64xf32>)
    -> (tensor<1x2x64x64xf16>, tensor<1x2x64x64xf16>) {
  %o = flash.attention %h, %h, %h
      : tensor<1x2x64x64xf16>, tensor<1x2x64x64xf16>, tensor<1x2x64x64xf16>
      -> tensor<1x2x64x64xf16>
  %dq, %dk, %dv = flash.attention_grad %h, %h, %h, %o, %h, %lse
      : tensor<1x2x64x64xf16>, tensor<1x2x64x64xf16>, tensor<1x2x64x64xf16>,
        tensor<1x2x64x64xf16>, tensor<1x2x64x64xf16>, tensor<1x2x64xf32>
      -> tensor<1x2x64x64xf16>, tensor<1x2x64x64xf16>, tensor<1x2x64x64xf16>
  %dq2, %dk2, %dv2 = flash.attention_grad %h, %h, %h, %o, %dq, %lse
      : tensor<1x2x64x64xf16>, tensor<1x2x64x64xf16>, tensor<1x2x64x64xf16>,
        tensor<1x2x64x64xf16>, tensor<1x2x64x64xf16>, tensor<1x2x64xf32>
      -> tensor<1x2x64x64xf16>, tensor<1x2x64x64xf16>, tensor<1x2x64x64xf16>
  return %dq2, %dk : tensor<1x2x64x64xf16>, tensor<1x2x64x64xf16>
}

// -----

// What the backward kernels do not cover stays in place, with a remark
// saying why.
// CHECK-LABEL: func.func @unsupported
// CHECK-COUNT-7: flash.attention_grad
// CHECK-NOT:     gpu.launch_func
func.func @unsupported(%f: tensor<1x1x16x64xf32>, %lf: tensor<1x1x16xf32>,
                       %h: tensor<1x1x16x64xf16>, %l: tensor<1x1x16xf32>,
                       %bm: tensor<1x1x16x16xi1>, %am: tensor<1x1x16x16xf16>,
                       %w: tensor<1x1x16x192xbf16>,
                       %n: tensor<1x1x1xi32>, %i: tensor<1x1x1x1xi32>) {
  // expected-remark @below {{not lowered to a GPU kernel: the tensor-core kernels take f16 or bf16, not f32}}
  %a:3 = flash.attention_grad %f, %f, %f, %f, %f, %lf
      : tensor<1x1x16x64xf32>, tensor<1x1x16x64xf32>, tensor<1x1x16x64xf32>,
        tensor<1x1x16x64xf32>, tensor<1x1x16x64xf32>, tensor<1x1x16xf32>
      -> tensor<1x1x16x64xf32>, tensor<1x1x16x64xf32>, tensor<1x1x16x64xf32>
  // expected-remark @below {{not lowered to a GPU kernel: mask operands are not supported by the GPU kernels yet}}
  %b:3 = flash.attention_grad %h, %h, %h, %h, %h, %l mask(%bm : tensor<1x1x16x16xi1>)
      : tensor<1x1x16x64xf16>, tensor<1x1x16x64xf16>, tensor<1x1x16x64xf16>,
        tensor<1x1x16x64xf16>, tensor<1x1x16x64xf16>, tensor<1x1x16xf32>
      -> tensor<1x1x16x64xf16>, tensor<1x1x16x64xf16>, tensor<1x1x16x64xf16>
  // expected-remark @below {{not lowered to a GPU kernel: mask operands are not supported by the GPU kernels yet}}
  %c:3 = flash.attention_grad %h, %h, %h, %h, %h, %l mask(%am : tensor<1x1x16x16xf16>)
      : tensor<1x1x16x64xf16>, tensor<1x1x16x64xf16>, tensor<1x1x16x64xf16>,
        tensor<1x1x16x64xf16>, tensor<1x1x16x64xf16>, tensor<1x1x16xf32>
      -> tensor<1x1x16x64xf16>, tensor<1x1x16x64xf16>, tensor<1x1x16x64xf16>
  // expected-remark @below {{not lowered to a GPU kernel: softcap is not supported by the GPU kernels yet}}
  %d:3 = flash.attention_grad %h, %h, %h, %h, %h, %l {softcap = 30.0 : f32}
      : tensor<1x1x16x64xf16>, tensor<1x1x16x64xf16>, tensor<1x1x16x64xf16>,
        tensor<1x1x16x64xf16>, tensor<1x1x16x64xf16>, tensor<1x1x16xf32>
      -> tensor<1x1x16x64xf16>, tensor<1x1x16x64xf16>, tensor<1x1x16x64xf16>
  // expected-remark @below {{not lowered to a GPU kernel: the GPU kernels take a positive scale}}
  %e:3 = flash.attention_grad %h, %h, %h, %h, %h, %l {scale = -1.0 : f32}
      : tensor<1x1x16x64xf16>, tensor<1x1x16x64xf16>, tensor<1x1x16x64xf16>,
        tensor<1x1x16x64xf16>, tensor<1x1x16x64xf16>, tensor<1x1x16xf32>
      -> tensor<1x1x16x64xf16>, tensor<1x1x16x64xf16>, tensor<1x1x16x64xf16>
  // expected-remark @below {{not lowered to a GPU kernel: backward kernels are generated for head dims up to 128, got 192}}
  %g:3 = flash.attention_grad %w, %w, %w, %w, %w, %l
      : tensor<1x1x16x192xbf16>, tensor<1x1x16x192xbf16>, tensor<1x1x16x192xbf16>,
        tensor<1x1x16x192xbf16>, tensor<1x1x16x192xbf16>, tensor<1x1x16xf32>
      -> tensor<1x1x16x192xbf16>, tensor<1x1x16x192xbf16>, tensor<1x1x16x192xbf16>
  // expected-remark @below {{not lowered to a GPU kernel: no block-sparse backward kernels are generated yet}}
  %s:3 = flash.attention_grad %h, %h, %h, %h, %h, %l
      block_sparse(%n, %i : tensor<1x1x1xi32>, tensor<1x1x1x1xi32>)
      {block_sizes = array<i64: 128, 128>}
      : tensor<1x1x16x64xf16>, tensor<1x1x16x64xf16>, tensor<1x1x16x64xf16>,
        tensor<1x1x16x64xf16>, tensor<1x1x16x64xf16>, tensor<1x1x16xf32>
      -> tensor<1x1x16x64xf16>, tensor<1x1x16x64xf16>, tensor<1x1x16x64xf16>
  return
}

// -----

// A kernel module that has some of a spec's backward kernels but not all
// cannot be launched as the ABI says: an error, not a launch of a missing
// kernel.
module attributes {gpu.container_module} {
  gpu.module @flash_kernels {
    gpu.func @flash_bwd_d64_f16_none_sm_80() kernel {
      gpu.return
    }
  }
  func.func @partial(%h: tensor<1x1x16x64xf16>, %l: tensor<1x1x16xf32>)
      -> tensor<1x1x16x64xf16> {
    // expected-error @below {{@flash_kernels has backward kernels of flash_bwd_d64_f16_none_sm_80 but not flash_bwd_d64_f16_none_sm_80_preprocess}}
    %dq, %dk, %dv = flash.attention_grad %h, %h, %h, %h, %h, %l
        : tensor<1x1x16x64xf16>, tensor<1x1x16x64xf16>, tensor<1x1x16x64xf16>,
          tensor<1x1x16x64xf16>, tensor<1x1x16x64xf16>, tensor<1x1x16xf32>
        -> tensor<1x1x16x64xf16>, tensor<1x1x16x64xf16>, tensor<1x1x16x64xf16>
    return %dq : tensor<1x1x16x64xf16>
  }
}
