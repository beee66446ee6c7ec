// RUN: flash-opt %s -split-input-file --convert-flash-to-gpu="chip=sm_90" -verify-diagnostics | FileCheck %s
// RUN: not flash-opt %s -split-input-file --convert-flash-to-gpu="chip=sm_70" 2>&1 | FileCheck %s --check-prefix=BADCHIP

// A chip without kernels is one error for the pass, not a remark per op.
// BADCHIP: error: convert-flash-to-gpu: chip must be one of sm_80, sm_86, sm_89, sm_90, sm_90a, got 'sm_70'

// One kernel per spec, a launch per op, the ABI of docs/kernel-abi.md.
// CHECK-LABEL: func.func @causal_f16
// CHECK:         %[[Q:.*]] = memref.cast %{{.*}} : memref<2x8x1000x64xf16> to memref<?x?x?x?xf16, strided<[?, ?, ?, 1], offset: ?>>
// CHECK:         %[[O:.*]] = memref.alloc() : memref<2x8x1000x64xf16>
// CHECK:         %[[L:.*]] = memref.alloc() : memref<2x8x1000xf32>
// CHECK:         gpu.launch_func @flash_kernels::@flash_fwd_d64_f16_causal_sm_90
// CHECK-SAME:      threads in (%c128{{[_0-9]*}}, %c1{{[_0-9]*}}, %c1{{[_0-9]*}})
// CHECK-SAME:      dynamic_shared_memory_size %c57344_i32
// CHECK:         bufferization.to_tensor %[[O]] restrict writable
// CHECK:       gpu.module @flash_kernels
// CHECK:         gpu.func @flash_fwd_d64_f16_causal_sm_90(%{{.*}}: memref<?x?x?x?xf16, strided<[?, ?, ?, 1], offset: ?>>, {{.*}}, %{{.*}}: memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>, %{{.*}}: f32, %{{.*}}: i64, %{{.*}}: i64) kernel
// CHECK-SAME:      known_block_size = array<i32: 128, 1, 1>
// CHECK-SAME:      nvvm.minctasm = 1
// CHECK:           gpu.dynamic_shared_memory
// CHECK:           nvgpu.device_async_copy {{.*}} {bypassL1}
// CHECK:           nvvm.cp.async.commit.group
// CHECK:           scf.for
// CHECK:             nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = false}
// CHECK:             nvvm.mma.sync {{.*}} : (vector<2xf16>, vector<2xf16>, f32) -> !llvm.struct<(f32, f32, f32, f32)>
// CHECK:             llvm.call_intrinsic "llvm.nvvm.ex2.approx.ftz.f"
// CHECK:             gpu.shuffle  xor
// CHECK:             nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = true}
// CHECK:           vector.store {{.*}} {alignment = 4 : i64}
func.func @causal_f16(%q: tensor<2x8x1000x64xf16>, %k: tensor<2x2x1000x64xf16>,
                      %v: tensor<2x2x1000x64xf16>)
    -> (tensor<2x8x1000x64xf16>, tensor<2x8x1000xf32>) {
  %o, %lse = flash.attention %q, %k, %v {mask_kind = #flash.mask<causal>}
      : tensor<2x8x1000x64xf16>, tensor<2x2x1000x64xf16>, tensor<2x2x1000x64xf16>
      -> tensor<2x8x1000x64xf16>, tensor<2x8x1000xf32>
  return %o, %lse : tensor<2x8x1000x64xf16>, tensor<2x8x1000xf32>
}

// -----

// bf16 uses the packed-i32 form of mma.sync; dynamic lengths are read off the
// descriptors at run time.
// CHECK-LABEL: func.func @dynamic_bf16
// CHECK:         gpu.launch_func @flash_kernels::@flash_fwd_d128_bf16_none_sm_90
// CHECK:       gpu.func @flash_fwd_d128_bf16_none_sm_90
// CHECK:         nvvm.mma.sync {{.*}} multiplicandAPtxType = #nvvm.mma_type<bf16>
func.func @dynamic_bf16(%q: tensor<?x?x?x128xbf16>, %k: tensor<?x?x?x128xbf16>,
                        %v: tensor<?x?x?x128xbf16>) -> tensor<?x?x?x128xbf16> {
  %o = flash.attention %q, %k, %v
      : tensor<?x?x?x128xbf16>, tensor<?x?x?x128xbf16>, tensor<?x?x?x128xbf16>
      -> tensor<?x?x?x128xbf16>
  return %o : tensor<?x?x?x128xbf16>
}

// -----

// What the kernels do not cover stays in place, with a remark saying why.
func.func @unsupported(%q: tensor<1x1x16x64xf32>, %k: tensor<1x1x16x64xf32>,
                       %v: tensor<1x1x16x64xf32>, %m: tensor<1x1x16x16xi1>,
                       %h: tensor<1x1x16x64xf16>, %hm: tensor<1x1x16x16xi1>)
    -> (tensor<1x1x16x64xf32>, tensor<1x1x16x64xf16>, tensor<1x1x16x64xf16>) {
  // expected-remark @below {{not lowered to a GPU kernel: the tensor-core kernels take f16 or bf16, not f32}}
  %a = flash.attention %q, %k, %v
      : tensor<1x1x16x64xf32>, tensor<1x1x16x64xf32>, tensor<1x1x16x64xf32>
      -> tensor<1x1x16x64xf32>
  // expected-remark @below {{not lowered to a GPU kernel: mask operands are not supported by the GPU kernels yet}}
  %b = flash.attention %h, %h, %h mask(%hm : tensor<1x1x16x16xi1>)
      : tensor<1x1x16x64xf16>, tensor<1x1x16x64xf16>, tensor<1x1x16x64xf16>
      -> tensor<1x1x16x64xf16>
  // expected-remark @below {{not lowered to a GPU kernel: the GPU kernels take a positive scale}}
  %c = flash.attention %h, %h, %h {scale = -1.0 : f32}
      : tensor<1x1x16x64xf16>, tensor<1x1x16x64xf16>, tensor<1x1x16x64xf16>
      -> tensor<1x1x16x64xf16>
  return %a, %b, %c : tensor<1x1x16x64xf32>, tensor<1x1x16x64xf16>, tensor<1x1x16x64xf16>
}

// -----

// A finite masked_score gives rows that hide every key the mean of V, which
// the kernels do not compute; without a structural mask nothing is hidden
// and the fill does not matter.
// CHECK-LABEL: func.func @masked_score
// CHECK: flash.attention
// CHECK-SAME: masked_score
// CHECK: gpu.launch_func
func.func @masked_score(%h: tensor<1x1x16x64xf16>)
    -> (tensor<1x1x16x64xf16>, tensor<1x1x16x64xf16>) {
  // expected-remark @below {{not lowered to a GPU kernel: a finite masked_score is not supported by the GPU kernels (their masked keys score -inf, and a row whose keys are all masked gives 0 instead of the mean of V)}}
  %a = flash.attention %h, %h, %h
      {mask_kind = #flash.mask<causal>, masked_score = -1.0e9 : f32}
      : tensor<1x1x16x64xf16>, tensor<1x1x16x64xf16>, tensor<1x1x16x64xf16>
      -> tensor<1x1x16x64xf16>
  %b = flash.attention %h, %h, %h {masked_score = -1.0e9 : f32}
      : tensor<1x1x16x64xf16>, tensor<1x1x16x64xf16>, tensor<1x1x16x64xf16>
      -> tensor<1x1x16x64xf16>
  return %a, %b : tensor<1x1x16x64xf16>, tensor<1x1x16x64xf16>
}

// -----

// Window sides reach the kernel as i64 arguments (INT64_MAX is a valid
// "unbounded"); the kernel clamps both to Lq + Lk before the band
// arithmetic, so that nothing overflows.
// CHECK-LABEL: func.func @window_int64_max
// CHECK: %[[MAX:.+]] = arith.constant 9223372036854775807 : i64
// CHECK: gpu.launch_func {{.*}}sliding_window{{.*}} args({{.*}}, %[[MAX]] : i64, %{{.*}} : i64)
// CHECK: gpu.func
// CHECK-DAG: %[[LEFT:.+]] = arith.index_cast %arg6 : i64 to index
// CHECK-DAG: %[[RIGHT:.+]] = arith.index_cast %arg7 : i64 to index
// CHECK-DAG: %[[LQ:.+]] = memref.dim %arg0, %c2 : memref
// CHECK-DAG: %[[LK:.+]] = memref.dim %arg1, %c2{{.*}} : memref
// CHECK: %[[WIDEST:.+]] = arith.addi %[[LQ]], %[[LK]] : index
// CHECK-DAG: arith.minsi %[[LEFT]], %[[WIDEST]] : index
// CHECK-DAG: arith.minsi %[[RIGHT]], %[[WIDEST]] : index
func.func @window_int64_max(%h: tensor<1x1x16x64xf16>) -> tensor<1x1x16x64xf16> {
  %o = flash.attention %h, %h, %h
      {mask_kind = #flash.mask<sliding_window>,
       window = array<i64: 9223372036854775807, 9223372036854775807>}
      : tensor<1x1x16x64xf16>, tensor<1x1x16x64xf16>, tensor<1x1x16x64xf16>
      -> tensor<1x1x16x64xf16>
  return %o : tensor<1x1x16x64xf16>
}
