//===- Passes.td - flash dialect passes --------------------*- tablegen -*-===//

#ifndef FLASH_DIALECT_FLASH_TRANSFORMS_PASSES_TD
#define FLASH_DIALECT_FLASH_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def FlashDecomposeAttention : Pass<"flash-decompose-attention"> {
  let summary = "Rewrite flash ops into linalg/tensor/arith/math that "
                "materialize the scores";
  let description = [{
    Replaces `flash.attention`, `flash.attention_grad` and
    `flash.block_sparse_layout` with their naive definitions: the full
    `Lq × Lk` score matrix is formed, masked, normalized with a numerically
    safe softmax (max-subtracted, in f32) and multiplied by V. This is the
    executable specification of the dialect that every faster lowering is
    checked against; it is not meant to be fast.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

#endif // FLASH_DIALECT_FLASH_TRANSFORMS_PASSES_TD
