//===- UnraisedAttention.cpp - Say when attention is not raised yet -------===//

#include "UnraisedAttention.h"

#include "flash/Dialect/Flash/IR/FlashDialect.h"

#include "llvm/ADT/STLExtras.h"

using namespace mlir;

namespace {

/// Names of the ops a naive attention graph is built from, as the
/// frontends flash-raise-attention reads emit them.
constexpr llvm::StringLiteral kSoftmaxOps[] = {
    "linalg.softmax", "math.exp", "math.exp2", "tosa.exp",
    "stablehlo.exponential", "torch.aten.softmax.int", "torch.aten._softmax"};
constexpr llvm::StringLiteral kProductOps[] = {
    "linalg.matmul",      "linalg.batch_matmul", "linalg.matmul_transpose_b",
    "linalg.batch_matmul_transpose_b", "linalg.contract", "tosa.matmul",
    "stablehlo.dot_general", "torch.aten.matmul", "torch.aten.bmm"};

} // namespace

void mlir::flash::remarkUnraisedAttention(Operation *root,
                                          llvm::StringRef pass) {
  bool flashOp = false, product = false;
  Operation *softmax = nullptr;
  root->walk([&](Operation *op) {
    if (isa_and_nonnull<FlashDialect>(op->getDialect()))
      flashOp = true;
    StringRef name = op->getName().getStringRef();
    if (!softmax && llvm::is_contained(kSoftmaxOps, name))
      softmax = op;
    product |= llvm::is_contained(kProductOps, name);
  });
  if (flashOp || !softmax || !product)
    return;
  // At the softmax's location, without the op printed beside it.
  emitRemark(softmax->getLoc()) << pass
                     << ": no flash op to rewrite here, but a softmax and a "
                        "matrix product: a naive softmax(Q Kᵀ) V graph must "
                        "be raised into flash.attention first "
                        "(--flash-raise-attention)";
}
