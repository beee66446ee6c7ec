// RUN: flash-opt %s -split-input-file --convert-flash-to-gpu="chip=sm_90" -verify-diagnostics | FileCheck %s
// RUN: flash-opt %s -split-input-file --convert-flash-to-gpu="chip=sm_90" -canonicalize | FileCheck %s --check-prefix=SMEM

// A block-sparse layout becomes four i32 buffers and the block sizes at the
// end of the launch (docs/kernel-abi.md). The kernel stages its row of the
// layout in shared memory past the K and V stages, 4 bytes a word: the
// kernel tiles of the NKV = 8 key blocks (16 of 64 keys), an end marker and
// two bitmaps of one word, on top of the dense kernel's 49152 bytes.
// CHECK-LABEL: func.func @causal_full_and_partial
// CHECK:         %[[N:.*]] = memref.cast %{{.*}} : memref<1x8x8xi32> to memref<?x?x?xi32, strided<[?, ?, ?], offset: ?>>
// CHECK:         %[[I:.*]] = memref.cast %{{.*}} : memref<1x8x8x8xi32> to memref<?x?x?x?xi32, strided<[?, ?, ?, ?], offset: ?>>
// CHECK:         %[[FN:.*]] = memref.cast %{{.*}} : memref<1x8x8xi32> to memref<?x?x?xi32, strided<[?, ?, ?], offset: ?>>
// CHECK:         %[[FI:.*]] = memref.cast %{{.*}} : memref<1x8x8x8xi32> to memref<?x?x?x?xi32, strided<[?, ?, ?, ?], offset: ?>>
// CHECK:         gpu.launch_func @flash_kernels::@flash_fwd_d64_f16_causal_sparse_sm_90
// CHECK-SAME:      args({{.*}}, %[[N]] : {{.*}}, %[[I]] : {{.*}}, %[[FN]] : {{.*}}, %[[FI]] : {{.*}}, %c128_i64 : i64, %c128_i64{{.*}} : i64)
// SMEM-LABEL: func.func @causal_full_and_partial
// SMEM:         gpu.launch_func @flash_kernels::@flash_fwd_d64_f16_causal_sparse_sm_90
// SMEM-SAME:      dynamic_shared_memory_size %c49228_i32

// The kernel: the list counts and indices read once into bitmaps of the
// key blocks (atomic or), the live tiles listed by warp ballots, then a
// loop over the staged tiles with the same cp.async double buffering and
// tensor-core tile as the dense kernels.
// CHECK:       gpu.func @flash_fwd_d64_f16_causal_sparse_sm_90(
// CHECK-SAME:      %{{.*}}: f32, %{{.*}}: i64, %{{.*}}: i64, %[[KN:.*]]: memref<?x?x?xi32, strided<[?, ?, ?], offset: ?>>, %[[KI:.*]]: memref<?x?x?x?xi32, strided<[?, ?, ?, ?], offset: ?>>, %[[KFN:.*]]: memref<?x?x?xi32, strided<[?, ?, ?], offset: ?>>, %[[KFI:.*]]: memref<?x?x?x?xi32, strided<[?, ?, ?, ?], offset: ?>>, %{{.*}}: i64, %{{.*}}: i64) kernel
// CHECK-DAG:       memref.load %[[KFN]]
// CHECK-DAG:       memref.load %[[KN]]
// CHECK:           %[[STAGED:.*]] = memref.view %{{.*}}[%c49152{{.*}}][%{{.*}}] : memref<?xi8, #gpu.address_space<workgroup>> to memref<?xi32, #gpu.address_space<workgroup>>
// CHECK:           %[[BITS:.*]] = memref.view %{{.*}} : memref<?xi8, #gpu.address_space<workgroup>> to memref<?xi32, #gpu.address_space<workgroup>>
// CHECK:           scf.for %{{.*}} = %thread_id_x to %{{.*}} step %c128
// CHECK:             memref.store %c0_i32{{.*}}, %[[BITS]]
// CHECK:           gpu.barrier
// CHECK:           scf.for %{{.*}} = %thread_id_x to %{{.*}} step %c128
// CHECK-DAG:         memref.load %[[KFI]]
// CHECK-DAG:         memref.load %[[KI]]
// CHECK:             memref.atomic_rmw ori %{{.*}}, %[[BITS]]
// CHECK:           gpu.barrier
// CHECK:           nvvm.vote.sync  ballot
// CHECK:           nvvm.read.ptx.sreg.lanemask.lt
// CHECK:           llvm.intr.ctpop
// CHECK:           memref.store %{{.*}}, %[[STAGED]]
// CHECK:           gpu.barrier
// CHECK:           scf.while
// CHECK:             memref.load %[[STAGED]]
// CHECK:             scf.condition
// CHECK:           } do {
// CHECK:             nvvm.cp.async.wait.group 0
// CHECK-NEXT:        gpu.barrier
// CHECK:             memref.load %[[STAGED]]
// CHECK:             llvm.getelementptr
// CHECK:             nvvm.cp.async.shared.global {{.*}}, 16, cache = cg
// CHECK:             nvvm.cp.async.commit.group
// CHECK-NOT:         gpu.barrier
// CHECK:             nvvm.mma.sync
// CHECK:             llvm.call_intrinsic "llvm.nvvm.ex2.approx.ftz.f"
// CHECK:           vector.store
func.func @causal_full_and_partial(
    %q: tensor<2x8x1000x64xf16>, %k: tensor<2x2x1000x64xf16>,
    %v: tensor<2x2x1000x64xf16>, %n: tensor<1x8x8xi32>,
    %i: tensor<1x8x8x8xi32>, %fn: tensor<1x8x8xi32>,
    %fi: tensor<1x8x8x8xi32>) -> tensor<2x8x1000x64xf16> {
  %o = flash.attention %q, %k, %v
      block_sparse(%n, %i : tensor<1x8x8xi32>, tensor<1x8x8x8xi32>)
      full(%fn, %fi : tensor<1x8x8xi32>, tensor<1x8x8x8xi32>)
      {mask_kind = #flash.mask<causal>, block_sizes = array<i64: 128, 128>}
      : tensor<2x8x1000x64xf16>, tensor<2x2x1000x64xf16>, tensor<2x2x1000x64xf16>
      -> tensor<2x8x1000x64xf16>
  return %o : tensor<2x8x1000x64xf16>
}

// -----

// Without full lists the kernel gets a view of no entries (N = 0), which it
// never reads. With a dynamic key length, the shared memory is computed at
// the launch: NKV = ceil(Lk / 128) blocks of 4 tiles, 2 bitmaps of
// ceil(NKV / 32) words and the end marker, after the dense 65536 bytes.
// CHECK-LABEL: func.func @partial_only
// CHECK:         %[[I:.*]] = memref.cast %{{.*}} : memref<1x1x?x?xi32> to memref<?x?x?x?xi32, strided<[?, ?, ?, ?], offset: ?>>
// CHECK:         %[[EMPTY:.*]] = memref.subview %[[I]][0, 0, 0, 0] [%{{.*}}, %{{.*}}, %{{.*}}, 0] [1, 1, 1, 1]
// CHECK:         %[[FI:.*]] = memref.cast %[[EMPTY]] {{.*}} to memref<?x?x?x?xi32, strided<[?, ?, ?, ?], offset: ?>>
// CHECK:         gpu.launch_func @flash_kernels::@flash_fwd_d128_bf16_none_sparse_sm_90
// CHECK-SAME:      %[[FI]] : memref<?x?x?x?xi32, strided<[?, ?, ?, ?], offset: ?>>
// SMEM-LABEL: func.func @partial_only
// SMEM:         %[[LK:.*]] = tensor.dim %arg1, %c2 : tensor<?x4x?x128xbf16>
// SMEM:         %[[NKV:.*]] = arith.ceildivui %[[LK]], %c128 : index
// SMEM:         %[[TILES:.*]] = arith.muli %[[NKV]], %c4 : index
// SMEM:         %[[LISTED:.*]] = arith.addi %[[TILES]], %c1 : index
// SMEM:         %[[W:.*]] = arith.ceildivui %[[NKV]], %c32 : index
// SMEM:         %[[BITS:.*]] = arith.muli %[[W]], %c2 : index
// SMEM:         %[[WORDS:.*]] = arith.addi %[[LISTED]], %[[BITS]] : index
// SMEM:         %[[BYTES:.*]] = arith.muli %[[WORDS]], %c4 : index
// SMEM:         %[[TOTAL:.*]] = arith.addi %[[BYTES]], %c65536 : index
// SMEM:         %[[SMEM:.*]] = arith.index_cast %[[TOTAL]] : index to i32
// SMEM:         gpu.launch_func @flash_kernels::@flash_fwd_d128_bf16_none_sparse_sm_90
// SMEM-SAME:      dynamic_shared_memory_size %[[SMEM]]
func.func @partial_only(%q: tensor<?x4x?x128xbf16>, %k: tensor<?x4x?x128xbf16>,
                        %v: tensor<?x4x?x128xbf16>, %n: tensor<1x1x?xi32>,
                        %i: tensor<1x1x?x?xi32>) -> tensor<?x4x?x128xbf16> {
  %o = flash.attention %q, %k, %v
      block_sparse(%n, %i : tensor<1x1x?xi32>, tensor<1x1x?x?xi32>)
      {block_sizes = array<i64: 128, 128>}
      : tensor<?x4x?x128xbf16>, tensor<?x4x?x128xbf16>, tensor<?x4x?x128xbf16>
      -> tensor<?x4x?x128xbf16>
  return %o : tensor<?x4x?x128xbf16>
}

// -----

// A layout whose blocks do not split into the kernel's tiles (cta_q, cta_kv)
// stays in place.
func.func @bad_blocks(%q: tensor<1x2x256x64xf16>, %n: tensor<1x1x8xi32>,
                      %i: tensor<1x1x8x4xi32>, %n2: tensor<1x1x2xi32>,
                      %i2: tensor<1x1x2x3xi32>)
    -> (tensor<1x2x256x64xf16>, tensor<1x2x256x64xf16>) {
  // expected-remark @below {{not lowered to a GPU kernel: the layout's block_q (32) must be a positive multiple of the kernel's cta_q (128 query rows per CTA)}}
  %a = flash.attention %q, %q, %q
      block_sparse(%n, %i : tensor<1x1x8xi32>, tensor<1x1x8x4xi32>)
      {block_sizes = array<i64: 32, 64>}
      : tensor<1x2x256x64xf16>, tensor<1x2x256x64xf16>, tensor<1x2x256x64xf16>
      -> tensor<1x2x256x64xf16>
  // expected-remark @below {{not lowered to a GPU kernel: the layout's block_kv (96) must be a positive multiple of the kernel's cta_kv (64 keys per tile)}}
  %b = flash.attention %q, %q, %q
      block_sparse(%n2, %i2 : tensor<1x1x2xi32>, tensor<1x1x2x3xi32>)
      {block_sizes = array<i64: 128, 96>}
      : tensor<1x2x256x64xf16>, tensor<1x2x256x64xf16>, tensor<1x2x256x64xf16>
      -> tensor<1x2x256x64xf16>
  return %a, %b : tensor<1x2x256x64xf16>, tensor<1x2x256x64xf16>
}
