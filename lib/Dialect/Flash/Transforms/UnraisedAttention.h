//===- UnraisedAttention.h - Say when attention is unraised -----*- C++ -*-===//
//
// The passes that rewrite flash ops (decompose, tile) leave a naive
// softmax(Q Kᵀ) V graph alone: it has to be raised into flash.attention
// first (flash-raise-attention). Silently doing nothing confused users, so
// those passes remark on input that looks like such a graph.
//
//===----------------------------------------------------------------------===//

#ifndef LIB_DIALECT_FLASH_TRANSFORMS_UNRAISEDATTENTION_H
#define LIB_DIALECT_FLASH_TRANSFORMS_UNRAISEDATTENTION_H

#include "mlir/IR/Operation.h"
#include "llvm/ADT/StringRef.h"

namespace mlir::flash {

/// Emits a remark when `root` holds no flash op but both an exponential or
/// softmax and a matrix product (of linalg, tosa, stablehlo or torch): a
/// graph that `pass` would rewrite once raised. The remark is at the first
/// softmax's location.
void remarkUnraisedAttention(Operation *root, llvm::StringRef pass);

} // namespace mlir::flash

#endif // LIB_DIALECT_FLASH_TRANSFORMS_UNRAISEDATTENTION_H
