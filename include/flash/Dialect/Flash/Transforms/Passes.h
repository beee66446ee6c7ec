//===- Passes.h - flash dialect passes --------------------------*- C++ -*-===//

#ifndef FLASH_DIALECT_FLASH_TRANSFORMS_PASSES_H
#define FLASH_DIALECT_FLASH_TRANSFORMS_PASSES_H

#include "flash/Dialect/Flash/IR/FlashDialect.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Pass/Pass.h"

namespace mlir::flash {

#define GEN_PASS_DECL
#include "flash/Dialect/Flash/Transforms/Passes.h.inc"

/// The largest tile size (tile-q, tile-kv) that flash-tile-attention and
/// flash-to-cpu accept: 2^20 rows. Tiles are allocated with static shapes,
/// and 2^20 keeps tile offsets and a tile's element count (at most
/// 2^20 * 2^20 = 2^40) far from overflowing the 64-bit index arithmetic;
/// sizes from 2^32 on compiled into programs that crashed at run time.
constexpr int64_t kMaxTileSize = int64_t{1} << 20;

/// Whether `size` is a tile size in [1, kMaxTileSize].
inline bool isValidTileSize(int64_t size) {
  return size >= 1 && size <= kMaxTileSize;
}

/// Adds the pattern that tiles flash.attention_grad into the recomputing
/// backward loop nest (used by flash-tile-attention).
void populateTileAttentionGradPatterns(RewritePatternSet &patterns,
                                       int64_t tileQ, int64_t tileKV);

#define GEN_PASS_REGISTRATION
#include "flash/Dialect/Flash/Transforms/Passes.h.inc"

} // namespace mlir::flash

#endif // FLASH_DIALECT_FLASH_TRANSFORMS_PASSES_H
