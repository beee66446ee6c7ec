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

def FlashDecomposeAggregates : Pass<"flash-decompose-aggregates"> {
  let summary = "Decompose linalg aggregate ops (e.g. linalg.softmax) into "
                "generics";
  let description = [{
    Rewrites every op implementing `linalg::AggregatedOpInterface`, such as
    `linalg.softmax`, into the simpler linalg ops it is defined by, so that
    the CPU pipeline can lower it to loops. Upstream MLIR offers this only
    as a transform-dialect op.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

def FlashTileAttention : Pass<"flash-tile-attention"> {
  let summary = "Tile flash ops into the IO-aware online-softmax loop nest";
  let description = [{
    Rewrites `flash.attention` into loops over (batch, head, query tile) and,
    inside, over key/value tiles, carrying a running row maximum, row sum and
    f32 accumulator (the online softmax of the FlashAttention paper).
    Exponentials are base 2 with scale · log2(e) folded into the scale.
    Causal and sliding-window masks restrict the key loop to the tiles that
    intersect the visible band and apply the element mask only in tiles
    the band's edge crosses; block-sparse layouts visit only the listed
    tiles, without element masks in the full ones. Tails (lengths that are
    not multiples of the tile sizes) are zero-padded tiles whose padding
    columns are hidden.

    `flash.attention_grad` becomes the recomputing backward: for each key
    tile, the probabilities are recomputed per query tile from the saved
    log-sum-exp, dK and dV accumulate in the tile, and dQ accumulates in an
    f32 buffer.

    After the pass, no value of size Lq × Lk exists: only tile-sized ones.
  }];
  let options = [
    Option<"blockQ", "block-q", "int64_t", /*default=*/"64",
           "Rows of a query tile">,
    Option<"blockKV", "block-kv", "int64_t", /*default=*/"64",
           "Rows of a key/value tile">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

#endif // FLASH_DIALECT_FLASH_TRANSFORMS_PASSES_TD
