// RUN: flash-opt %s -split-input-file --convert-flash-to-gpu="chip=sm_90a" | FileCheck %s

// The K and V copies of a key tile take byte pointers (KernelPlan::
// copyPointers): the thread's column of K[batch, head] in global memory,
// moved by the tile's first row (plus the thread's row) times the row
// stride in bytes, then by 16 rows per copy; the stage's chunk in shared
// memory, then 16 rows of 128 bytes per copy. At D = 64, 96-key tiles:
// six copies a thread. A whole tile's copies take no bounds; the last
// tile's zero-fill the rows past the key length and read row0 for them,
// whose pointer they build once.
// CHECK-LABEL: gpu.func @flash_fwd_d64_bf16_none_sm_90a
// CHECK:         scf.for
// CHECK:           scf.if
// CHECK:             %[[STRIDED:.*]], %{{.*}}, %{{.*}}:4, %[[STRIDES:.*]]:4 = memref.extract_strided_metadata %arg1
// CHECK:             %[[ROWBYTES:.*]] = arith.muli %[[STRIDES]]#2, %c2{{.*}} : index
// CHECK:             %[[ROWBYTES64:.*]] = arith.index_cast %[[ROWBYTES]] : index to i64
// CHECK:             %[[GENERIC:.*]] = llvm.inttoptr %{{.*}} : i64 to !llvm.ptr
// CHECK:             %[[GLOBAL:.*]] = llvm.addrspacecast %[[GENERIC]] : !llvm.ptr to !llvm.ptr<1>
// CHECK:             %[[COLUMN:.*]] = llvm.getelementptr %[[GLOBAL]][%{{.*}}] : (!llvm.ptr<1>, i64) -> !llvm.ptr<1>, i8
// CHECK:             %[[FIRST:.*]] = arith.muli %{{.*}}, %[[ROWBYTES64]] : i64
// CHECK:             %[[FROM0:.*]] = llvm.getelementptr %[[COLUMN]][%[[FIRST]]]
// CHECK:             %[[STEP:.*]] = arith.muli %[[ROWBYTES64]], %c16_i64 : i64
// CHECK:             %[[SHARED:.*]] = llvm.inttoptr %{{.*}} : i64 to !llvm.ptr<3>
// CHECK:             %[[TO:.*]] = llvm.getelementptr %[[SHARED]][%{{.*}}] : (!llvm.ptr<3>, i64) -> !llvm.ptr<3>, i8
// CHECK:             %[[TO0:.*]] = llvm.getelementptr %[[TO]][%c0_i64{{.*}}]
// CHECK:             nvvm.cp.async.shared.global %[[TO0]], %[[FROM0]], 16, cache = cg : !llvm.ptr<3>, !llvm.ptr<1>
// CHECK:             %[[FROM1:.*]] = llvm.getelementptr %[[FROM0]][%[[STEP]]]
// CHECK:             %[[TO1:.*]] = llvm.getelementptr %[[TO]][%c2048_i64]
// CHECK:             nvvm.cp.async.shared.global %[[TO1]], %[[FROM1]], 16, cache = cg : !llvm.ptr<3>, !llvm.ptr<1>
// CHECK-COUNT-4:     nvvm.cp.async.shared.global %{{.*}}, %{{.*}}, 16, cache = cg : !llvm.ptr<3>, !llvm.ptr<1>
// CHECK:             memref.extract_strided_metadata %arg2
// CHECK-COUNT-6:     nvvm.cp.async.shared.global %{{.*}}, %{{.*}}, 16, cache = cg : !llvm.ptr<3>, !llvm.ptr<1>
// CHECK:           } else {
// CHECK:             %[[BASE:.*]] = llvm.getelementptr %{{.*}} : (!llvm.ptr<1>, i64) -> !llvm.ptr<1>, i8
// CHECK:             %[[FROM:.*]] = llvm.getelementptr %[[BASE]][%{{.*}}]
// CHECK:             %[[ROW0:.*]] = llvm.getelementptr %[[BASE]][%{{.*}}]
// CHECK:             %[[IN:.*]] = arith.cmpi slt, %{{.*}}, %dim
// CHECK:             %[[SOURCE:.*]] = llvm.select %[[IN]], %[[FROM]], %[[ROW0]] : i1, !llvm.ptr<1>
// CHECK:             %[[BYTES:.*]] = arith.select %[[IN]], %c16_i32, %c0_i32 : i32
// CHECK:             nvvm.cp.async.shared.global %{{.*}}, %[[SOURCE]], 16, cache = cg, %[[BYTES]] : !llvm.ptr<3>, !llvm.ptr<1>, i32
// CHECK-NOT:         llvm.getelementptr %[[BASE]]
// CHECK:             llvm.select %{{.*}}, %{{.*}}, %[[ROW0]] : i1, !llvm.ptr<1>
func.func @none(%q: tensor<1x2x300x64xbf16>, %k: tensor<1x2x300x64xbf16>,
                %v: tensor<1x2x300x64xbf16>) -> tensor<1x2x300x64xbf16> {
  %o = flash.attention %q, %k, %v
      : tensor<1x2x300x64xbf16>, tensor<1x2x300x64xbf16>, tensor<1x2x300x64xbf16>
      -> tensor<1x2x300x64xbf16>
  return %o : tensor<1x2x300x64xbf16>
}

// -----

// A padded head dim (40 in 64 columns): the threads of the columns past it
// copy nothing, and read column 0.
// CHECK-LABEL: gpu.func @flash_fwd_d40_bf16_none_sm_90a
// CHECK:         scf.for
// CHECK:           scf.if
// CHECK:             %[[COL:.*]] = arith.muli %{{.*}}, %c8{{.*}} : index
// CHECK:             %[[VALID:.*]] = arith.cmpi slt, %[[COL]], %c40{{.*}} : index
// CHECK:             arith.select %[[VALID]], %[[COL]], %c0{{.*}} : index
// CHECK:             %[[BYTES:.*]] = arith.select %[[VALID]], %c16_i32, %c0_i32 : i32
// CHECK:             nvvm.cp.async.shared.global %{{.*}}, %{{.*}}, 16, cache = cg, %[[BYTES]] : !llvm.ptr<3>, !llvm.ptr<1>, i32
func.func @padded(%q: tensor<1x2x300x40xbf16>, %k: tensor<1x2x300x40xbf16>,
                  %v: tensor<1x2x300x40xbf16>) -> tensor<1x2x300x40xbf16> {
  %o = flash.attention %q, %k, %v
      : tensor<1x2x300x40xbf16>, tensor<1x2x300x40xbf16>, tensor<1x2x300x40xbf16>
      -> tensor<1x2x300x40xbf16>
  return %o : tensor<1x2x300x40xbf16>
}

// -----

// The sliding window's two-sided band at D = 128 leaves no registers for
// the pointers: its copies index the 4-D tensors.
// CHECK-LABEL: gpu.func @flash_fwd_d128_bf16_sliding_window_sm_90a
// CHECK:         scf.for
// CHECK-NOT:       nvvm.cp.async.shared.global
// CHECK:           nvgpu.device_async_copy
// CHECK:         gpu.return
func.func @window(%q: tensor<1x2x300x128xbf16>, %k: tensor<1x2x300x128xbf16>,
                  %v: tensor<1x2x300x128xbf16>) -> tensor<1x2x300x128xbf16> {
  %o = flash.attention %q, %k, %v
      {mask_kind = #flash.mask<sliding_window>, window = array<i64: 64, 0>}
      : tensor<1x2x300x128xbf16>, tensor<1x2x300x128xbf16>, tensor<1x2x300x128xbf16>
      -> tensor<1x2x300x128xbf16>
  return %o : tensor<1x2x300x128xbf16>
}
