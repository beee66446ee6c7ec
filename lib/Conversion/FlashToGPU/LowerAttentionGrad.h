//===- LowerAttentionGrad.h - flash.attention_grad to launches --*- C++ -*-===//
//
// convert-flash-to-gpu's lowering of flash.attention_grad to the launches
// of its backward kernels (LowerAttentionGrad.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef LIB_CONVERSION_FLASHTOGPU_LOWERATTENTIONGRAD_H
#define LIB_CONVERSION_FLASHTOGPU_LOWERATTENTIONGRAD_H

#include "flash/Conversion/FlashToGPU/Chip.h"
#include "flash/Dialect/Flash/IR/FlashOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

namespace mlir::flash::detail {

/// Replaces `op` with the launches of its backward kernels on `chip`,
/// which it adds to `module`'s kernel module once per spec. An op that the
/// kernels do not cover stays, with a remark saying why; the failure is an
/// error emitted on `op`.
LogicalResult lowerAttentionGrad(AttentionGradOp op, Chip chip, ModuleOp module,
                                 OpBuilder &b);

} // namespace mlir::flash::detail

#endif // LIB_CONVERSION_FLASHTOGPU_LOWERATTENTIONGRAD_H
