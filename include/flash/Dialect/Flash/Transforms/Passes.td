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
    Option<"tileQ", "tile-q", "int64_t", /*default=*/"64",
           "Rows of a query tile">,
    Option<"tileKV", "tile-kv", "int64_t", /*default=*/"64",
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

def FlashRaiseAttention : Pass<"flash-raise-attention", "::mlir::func::FuncOp"> {
  let summary = "Replace naive softmax(Q Kᵀ · scale + mask) V graphs with "
                "flash.attention";
  let description = [{
    Finds attention written out in linalg (named ops such as matmul,
    batch_matmul, transpose, broadcast and softmax, or generics as
    torch-mlir emits them), tensor reshapes and TOSA, and replaces the whole
    subgraph with `flash.attention`, so that the `Lq × Lk` score matrix is
    no longer materialized. Graphs are recognised by their mathematics:
    `out = Σ_j softmax_j(S) V` with `S = scale · Q Kᵀ` plus masks, whatever
    op boundaries, layouts ([B, H, L, D], [B·H, L, D], transposed operands,
    repeat_kv broadcasts for grouped-query attention), casts (f16/bf16 inputs
    with an f32 softmax) and spellings of the softmax (max / exp / sum /
    divide, reciprocal multiplication, linalg.softmax) were used.

    The scale may be applied to Q, to K, to the scores, or as a division by
    sqrt(d). Additive mask tensors and boolean masks applied with a select to
    -inf (or a large negative constant) become the `mask` operand; causal and
    sliding-window masks built from index comparisons or triangular
    constants become the `mask_kind` attribute.

    A graph is left alone when its scores or probabilities are used
    elsewhere, or when its mathematics differs from attention (softmax over
    another axis, an exponential without normalization, ...). With
    `emit-remarks`, such near-matches get a remark saying which step failed.
    Shapes must be static.
  }];
  let options = [
    Option<"emitRemarks", "emit-remarks", "bool", /*default=*/"false",
           "Emit a remark on each near-match that was not raised, saying why">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::flash::FlashDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

#endif // FLASH_DIALECT_FLASH_TRANSFORMS_PASSES_TD
