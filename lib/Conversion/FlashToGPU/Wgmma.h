//===- Wgmma.h - Hopper's warpgroup MMA and its operands --------*- C++ -*-===//
//
// The warpgroup-level tensor-core building blocks of sm_90a: shared-memory
// matrix descriptors of 128-byte-swizzled tiles, wgmma.mma_async with both
// operands in shared memory or with A in registers, and the fence, commit
// and wait that order them. The forward's warpgroup flavour
// (WarpgroupMMA.cpp) and the backward's (BackwardWarpgroupMma.cpp) issue
// their products through it.
//
// Tiles are stored as 64-column chunks of 128-byte rows (a [rows][Dp] tile
// as [Dp / 64][rows][64]), each row's 16-byte pieces XORed with row % 8, on
// 1024-byte aligned chunks: the hardware's 128-byte swizzle. An operand is
// K-major when its reduction dimension runs along the 64 columns (Q and K
// in Q Kᵀ), MN-major when its M or N dimension does (V in P V).
//
// A warpgroup's m64 x n accumulator, seen from warp w % 4 of the group, has
// the mma.sync m16n8 layout of rows 16 (w % 4) + [0, 16) (WarpMma.h), one
// Fragment per 8 columns.
//
//===----------------------------------------------------------------------===//

#ifndef LIB_CONVERSION_FLASHTOGPU_WGMMA_H
#define LIB_CONVERSION_FLASHTOGPU_WGMMA_H

#include "KernelBuilder.h"

namespace mlir::flash::detail {

class Wgmma : public KernelBuilder {
public:
  /// `elt` is f16 or bf16.
  Wgmma(const KernelBuilder &builder, Type elt)
      : KernelBuilder(builder), elt(elt) {}

  enum class Major { K, MN };

  /// The indices of 16-byte chunk `chunk` of tile row `row` in a ([stage,]
  /// Dp / 64, rows, 64) tile view: the chunk XORed with row % 8 within its
  /// 128 bytes, as the hardware's swizzle reads it.
  SmallVector<Value> getChunkIndices(Value stage, Value row, Value chunk);
  /// The byte offset from dynamic shared memory `smem` to its first
  /// 1024-byte boundary, where the tiles start (the swizzle pattern repeats
  /// every 8 rows of 128 bytes); the plans leave 1024 bytes of slack.
  Value getTilesOffset(Value smem);
  /// The tensor cores read shared memory through the async proxy: stores
  /// and copies must be made visible to it before the barrier that
  /// publishes them.
  void fenceSharedStores();

  /// The descriptor of a 128-byte-swizzled operand at shared address
  /// `address` (i64): `leadingBytes` apart are the 64-column chunks of an
  /// MN-major operand (unused when K-major), `strideBytes` apart the groups
  /// of 8 rows.
  Value descriptor(Value address, int64_t leadingBytes, int64_t strideBytes);
  /// `descriptor` moved by `bytes`, plus `stage` · `stageBytes` when `stage`
  /// is not null: the address field is the low bits, and no operand crosses
  /// the 256 KiB it spans.
  Value offset(Value descriptor, int64_t bytes, Value stage = nullptr,
               int64_t stageBytes = 0);

  /// The struct of an m64 x n accumulator: n / 2 f32 per thread.
  Type getAccumulatorType(int64_t n);
  /// D = A B + `acc` (m64 x n x k16), both operands from shared memory;
  /// `acc` null: D = A B.
  Value mmaShared(Value acc, Value a, Major aMajor, Value b, Major bMajor,
                  int64_t n);
  /// D = A B + C (m64 x n x k16) with A's four registers `a` (a packed
  /// 16 x 16 block, WarpMma::accumulatorsAsA) and C the n / 2 values
  /// `acc`. MLIR 22 has no op for the register-A form, hence inline PTX.
  Value mmaRegisterA(ArrayRef<Value> acc, ArrayRef<Value> a, Value b,
                     Major bMajor, int64_t n);
  /// The n / 2 accumulators of `acc`.
  SmallVector<Value> getValues(Value acc, int64_t n);
  /// The accumulators of `acc` as n / 8 fragments of 8 columns.
  SmallVector<Fragment> getFragments(Value acc, int64_t n);

  /// Orders the registers' earlier writes before the products that read
  /// them.
  void fence();
  /// Closes the group of products issued since the last commit.
  void commit();
  /// Waits until at most `pending` groups are in flight.
  void wait(int64_t pending);

  Type elt;
};

} // namespace mlir::flash::detail

#endif // LIB_CONVERSION_FLASHTOGPU_WGMMA_H
