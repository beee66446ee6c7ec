// Block-sparse launches whose shared memory test/tools/flash-aot/abi.test
// compares with the runtime's: the lowering computes it at the launch
// (getLayoutStaging, KernelABI.h), the runtime in sparseSharedMemory.
// d64 f16 kernels of sm_80 have 64-key tiles: the layouts below have 2, 1
// and 3 tiles per block, and 8, 128 and 22 blocks (1, 4 and 1 bitmap words).

func.func @one_tile_blocks(%q: tensor<1x1x128x64xf16>, %k: tensor<1x1x1000x64xf16>, %v: tensor<1x1x1000x64xf16>,
    %n: tensor<1x1x1xi32>, %i: tensor<1x1x1x8xi32>) -> tensor<1x1x128x64xf16> {
  %o = flash.attention %q, %k, %v
      block_sparse(%n, %i : tensor<1x1x1xi32>, tensor<1x1x1x8xi32>)
      {block_sizes = array<i64: 128, 128>}
      : tensor<1x1x128x64xf16>, tensor<1x1x1000x64xf16>, tensor<1x1x1000x64xf16> -> tensor<1x1x128x64xf16>
  return %o : tensor<1x1x128x64xf16>
}

func.func @many_bitmap_words(%q: tensor<1x1x128x64xf16>, %k: tensor<1x1x8192x64xf16>, %v: tensor<1x1x8192x64xf16>,
    %n: tensor<1x1x1xi32>, %i: tensor<1x1x1x128xi32>) -> tensor<1x1x128x64xf16> {
  %o = flash.attention %q, %k, %v
      block_sparse(%n, %i : tensor<1x1x1xi32>, tensor<1x1x1x128xi32>)
      {block_sizes = array<i64: 128, 64>}
      : tensor<1x1x128x64xf16>, tensor<1x1x8192x64xf16>, tensor<1x1x8192x64xf16> -> tensor<1x1x128x64xf16>
  return %o : tensor<1x1x128x64xf16>
}

func.func @three_tile_blocks(%q: tensor<1x1x128x64xf16>, %k: tensor<1x1x4100x64xf16>, %v: tensor<1x1x4100x64xf16>,
    %n: tensor<1x1x1xi32>, %i: tensor<1x1x1x22xi32>) -> tensor<1x1x128x64xf16> {
  %o = flash.attention %q, %k, %v
      block_sparse(%n, %i : tensor<1x1x1xi32>, tensor<1x1x1x22xi32>)
      {block_sizes = array<i64: 256, 192>}
      : tensor<1x1x128x64xf16>, tensor<1x1x4100x64xf16>, tensor<1x1x4100x64xf16> -> tensor<1x1x128x64xf16>
  return %o : tensor<1x1x128x64xf16>
}
