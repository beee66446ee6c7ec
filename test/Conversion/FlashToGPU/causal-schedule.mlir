// RUN: flash-opt %s -split-input-file --convert-flash-to-gpu="chip=sm_90a" | FileCheck %s

// A causal kernel maps its linear CTA id to (query tile, head, batch) so
// that the longest tiles start first across heads, in sections of SMs / 2
// (batch, head) pairs for CTAs of four warps.
// CHECK-LABEL: gpu.func @flash_fwd_d64_f16_causal_sm_90a
// CHECK-DAG:     %[[GX:.*]] = arith.index_castui %grid_dim_x : index to i32
// CHECK-DAG:     %[[GY:.*]] = arith.index_castui %grid_dim_y : index to i32
// CHECK-DAG:     %[[GZ:.*]] = arith.index_castui %grid_dim_z : index to i32
// CHECK-DAG:     %[[BX:.*]] = arith.index_castui %block_id_x : index to i32
// CHECK-DAG:     %[[BY:.*]] = arith.index_castui %block_id_y : index to i32
// CHECK-DAG:     %[[BZ:.*]] = arith.index_castui %block_id_z : index to i32
// CHECK:         %[[PAIRS:.*]] = arith.muli %[[GY]], %[[GZ]] : i32
// CHECK:         %[[HZ:.*]] = arith.muli %[[GY]], %[[BZ]] : i32
// CHECK:         %[[ROW:.*]] = arith.addi %[[BY]], %[[HZ]] : i32
// CHECK:         %[[ROWCTAS:.*]] = arith.muli %[[GX]], %[[ROW]] : i32
// CHECK:         %[[LINEAR:.*]] = arith.addi %[[BX]], %[[ROWCTAS]] : i32
// CHECK:         %[[SMS:.*]] = nvvm.read.ptx.sreg.nsmid : i32
// CHECK:         %[[HALF:.*]] = arith.divui %[[SMS]], %c2_i32 : i32
// CHECK:         %[[SECTION:.*]] = arith.maxui %[[HALF]], %c1_i32 : i32
// CHECK:         %[[SECTIONCTAS:.*]] = arith.muli %[[SECTION]], %[[GX]] : i32
// CHECK:         %[[INDEX:.*]] = arith.divui %[[LINEAR]], %[[SECTIONCTAS]] : i32
// CHECK:         %[[FIRST:.*]] = arith.muli %[[INDEX]], %[[SECTION]] : i32
// CHECK:         %[[WITHIN:.*]] = arith.remui %[[LINEAR]], %[[SECTIONCTAS]] : i32
// CHECK:         %[[LEFT:.*]] = arith.subi %[[PAIRS]], %[[FIRST]] : i32
// CHECK:         %[[INSECTION:.*]] = arith.minui %[[SECTION]], %[[LEFT]] : i32
// CHECK:         %[[OFFSET:.*]] = arith.remui %[[WITHIN]], %[[INSECTION]] : i32
// CHECK:         %[[PAIR:.*]] = arith.addi %[[FIRST]], %[[OFFSET]] : i32
// CHECK:         %[[RANK:.*]] = arith.divui %[[WITHIN]], %[[INSECTION]] : i32
// CHECK:         %[[HEAD:.*]] = arith.remui %[[PAIR]], %[[GY]] : i32
// CHECK:         arith.index_castui %[[HEAD]] : i32 to index
// CHECK:         %[[BATCH:.*]] = arith.divui %[[PAIR]], %[[GY]] : i32
// CHECK:         arith.index_castui %[[BATCH]] : i32 to index
// CHECK:         %[[LAST:.*]] = arith.subi %[[GX]], %c1_i32{{.*}} : i32
// CHECK:         %[[TILE:.*]] = arith.subi %[[LAST]], %[[RANK]] : i32
// CHECK:         arith.index_castui %[[TILE]] : i32 to index
func.func @causal(%q: tensor<2x8x1000x64xf16>, %k: tensor<2x2x1000x64xf16>,
                  %v: tensor<2x2x1000x64xf16>) -> tensor<2x8x1000x64xf16> {
  %o, %lse = flash.attention %q, %k, %v {mask_kind = #flash.mask<causal>}
      : tensor<2x8x1000x64xf16>, tensor<2x2x1000x64xf16>, tensor<2x2x1000x64xf16>
      -> tensor<2x8x1000x64xf16>, tensor<2x8x1000xf32>
  return %o : tensor<2x8x1000x64xf16>
}

// -----

// CTAs of eight warps (D = 256), one per SM: sections of SMs / 8 pairs.
// CHECK-LABEL: gpu.func @flash_fwd_d256_bf16_causal_bottom_right_sm_90a
// CHECK:         %[[SMS:.*]] = nvvm.read.ptx.sreg.nsmid : i32
// CHECK:         arith.divui %[[SMS]], %c8_i32 : i32
func.func @bottom_right(%q: tensor<1x4x300x256xbf16>,
                        %k: tensor<1x4x500x256xbf16>,
                        %v: tensor<1x4x500x256xbf16>)
    -> tensor<1x4x300x256xbf16> {
  %o, %lse = flash.attention %q, %k, %v
      {mask_kind = #flash.mask<causal_bottom_right>}
      : tensor<1x4x300x256xbf16>, tensor<1x4x500x256xbf16>,
        tensor<1x4x500x256xbf16>
      -> tensor<1x4x300x256xbf16>, tensor<1x4x300xf32>
  return %o : tensor<1x4x300x256xbf16>
}

// -----

// Without a causal mask every tile of a head is as long: the grid's own
// order, which keeps a head's CTAs together.
// CHECK-LABEL: gpu.func @flash_fwd_d64_f16_none_sm_90a
// CHECK-NOT:     nvvm.read.ptx.sreg.nsmid
// CHECK:         %block_id_x = gpu.block_id  x
// CHECK-NEXT:    %block_id_y = gpu.block_id  y
// CHECK-NEXT:    %block_id_z = gpu.block_id  z
// CHECK-NOT:     nvvm.read.ptx.sreg.nsmid
// CHECK:         gpu.return
func.func @unmasked(%q: tensor<2x8x1000x64xf16>, %k: tensor<2x2x1000x64xf16>,
                    %v: tensor<2x2x1000x64xf16>) -> tensor<2x8x1000x64xf16> {
  %o, %lse = flash.attention %q, %k, %v
      : tensor<2x8x1000x64xf16>, tensor<2x2x1000x64xf16>, tensor<2x2x1000x64xf16>
      -> tensor<2x8x1000x64xf16>, tensor<2x8x1000xf32>
  return %o : tensor<2x8x1000x64xf16>
}
