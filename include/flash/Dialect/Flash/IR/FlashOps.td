//===- FlashOps.td - flash dialect operations --------------*- tablegen -*-===//

#ifndef FLASH_DIALECT_FLASH_IR_FLASHOPS_TD
#define FLASH_DIALECT_FLASH_IR_FLASHOPS_TD

include "flash/Dialect/Flash/IR/FlashDialect.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/CommonAttrConstraints.td"
include "mlir/IR/CommonTypeConstraints.td"

class Flash_Op<string mnemonic, list<Trait> traits = []>
    : Op<Flash_Dialect, mnemonic, traits>;

def Flash_FloatTensor : RankedTensorOf<[F16, BF16, F32]>;
def Flash_MaskTensor : RankedTensorOf<[F16, BF16, F32, I1]>;
def Flash_IndexTensor : RankedTensorOf<[I32]>;

// Operands and attributes shared by the forward and the backward op: the
// element mask, the block-sparse layout and the score transformation.
defvar Flash_SharedMaskArgs = (ins
  Optional<Flash_MaskTensor>:$mask,
  Optional<Flash_IndexTensor>:$kv_num_blocks,
  Optional<Flash_IndexTensor>:$kv_indices,
  Optional<Flash_IndexTensor>:$full_kv_num_blocks,
  Optional<Flash_IndexTensor>:$full_kv_indices,
  OptionalAttr<F32Attr>:$scale,
  DefaultValuedAttr<Flash_MaskKindAttr, "::mlir::flash::MaskKind::None">:$mask_kind,
  OptionalAttr<DenseI64ArrayAttr>:$window,
  OptionalAttr<F32Attr>:$softcap,
  OptionalAttr<DenseI64ArrayAttr>:$block_sizes
);

defvar Flash_SharedMaskFormat = [{
  (`mask` `(` $mask^ `:` type($mask) `)`)?
  (`block_sparse` `(` $kv_num_blocks^ `,` $kv_indices `:`
      type($kv_num_blocks) `,` type($kv_indices) `)`)?
  (`full` `(` $full_kv_num_blocks^ `,` $full_kv_indices `:`
      type($full_kv_num_blocks) `,` type($full_kv_indices) `)`)?
}];

defvar Flash_SharedDescription = [{
    Scores are `S = Q Kᵀ · scale`, with `scale` defaulting to
    `1 / sqrt(D)`. They are then transformed, in this order:
    1. `softcap` (optional, > 0): `S = softcap · tanh(S / softcap)`;
    2. an additive float `mask` is added, or a boolean `mask` (i1,
       true = attend) hides the keys where it is false. The mask is rank 4
       and broadcastable to `[B, Hq, Lq, Lk]`: each dimension equals the
       corresponding one or is 1;
    3. the structural `mask_kind` (see `#flash.mask`) hides keys; the
       `sliding_window` kind takes `window = array<i64: left, right>`;
    4. the block-sparse layout, when given, hides every key in a dead
       tile.

    **Block-sparse layout.** `block_sizes = array<i64: block_q, block_kv>`
    splits the score matrix into `NQ × NKV` tiles, `NQ = ceil(Lq / block_q)`,
    `NKV = ceil(Lk / block_kv)`. `kv_num_blocks` (`[B|1, Hq|1, NQ]`, i32)
    and `kv_indices` (`[B|1, Hq|1, NQ, N]`, i32, `N >= 1`) list, per query
    tile, the live key tiles as a CSR row: the first `kv_num_blocks[b, h, t]`
    entries of `kv_indices[b, h, t]` are key-tile indices. The optional
    `full_kv_num_blocks` / `full_kv_indices` pair lists, in the same form,
    live tiles that are *full*: the element masks of steps 2 and 3 are not
    applied inside them (this is FlexAttention's convention; a kernel skips
    the per-element mask there). A tile in neither list is dead. Indices
    outside `[0, NKV)` are ignored. `flash.block_sparse_layout` builds the
    lists from a plain tile mask.

    A query row that sees no key produces an output of 0 and a
    log-sum-exp of -inf, never NaN.
}];

//===----------------------------------------------------------------------===//
// AttentionOp
//===----------------------------------------------------------------------===//

def Flash_AttentionOp : Flash_Op<"attention",
    [Pure, AttrSizedOperandSegments]> {
  let summary = "Scaled dot-product attention, softmax(Q Kᵀ · scale + mask) V";
  let description = !strconcat([{
    Computes `O = softmax(S) V` over the key axis, where `query` is
    `[B, Hq, Lq, D]`, `key` is `[B, Hkv, Lk, D]` and `value` is
    `[B, Hkv, Lk, Dv]`, all of one element type (f16, bf16 or f32), with
    `Hq` a multiple of `Hkv` (grouped-query and multi-query attention).
    The first result is `[B, Hq, Lq, Dv]` in the query's element type. The
    optional second result is the log-sum-exp of the transformed scores,
    `[B, Hq, Lq]` in f32, natural log: what `flash.attention_grad` needs.

  }], Flash_SharedDescription, [{

    **Finite fills.** By default a hidden score is -inf. `masked_score`
    (finite, f32) gives the keys hidden by the element masks of steps 2 and
    3 that score instead, as `masked_fill(hide, value)` does: they then take
    part in the softmax with weight `exp(masked_score - max)`, and a row
    whose keys are all hidden by them averages V over those keys instead of
    producing 0 (with no layout, its log-sum-exp is
    `masked_score + log(Lk)`). Dead tiles of a block-sparse
    layout and keys hidden by an additive `-inf` stay -inf.
    `flash-raise-attention` sets it for graphs that fill with a finite
    value. The GPU kernels do not take it (`convert-flash-to-gpu` leaves
    such an op in place with a remark).

    Example:

    ```mlir
    %o, %lse = flash.attention %q, %k, %v {mask_kind = #flash.mask<causal>}
        : tensor<2x8x128x64xf16>, tensor<2x2x128x64xf16>, tensor<2x2x128x64xf16>
        -> tensor<2x8x128x64xf16>, tensor<2x8x128xf32>
    ```
  }]);

  let arguments = !con((ins
    Flash_FloatTensor:$query,
    Flash_FloatTensor:$key,
    Flash_FloatTensor:$value), Flash_SharedMaskArgs,
    (ins OptionalAttr<F32Attr>:$masked_score));
  let results = (outs Flash_FloatTensor:$output,
                      Optional<RankedTensorOf<[F32]>>:$lse);

  let assemblyFormat = !strconcat("$query `,` $key `,` $value",
    Flash_SharedMaskFormat, [{
    attr-dict `:` type($query) `,` type($key) `,` type($value)
    `->` type(results)
  }]);

  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The scale applied to Q Kᵀ: the `scale` attribute, or 1/sqrt(D).
    double getScaleValue();
  }];
}

//===----------------------------------------------------------------------===//
// AttentionGradOp
//===----------------------------------------------------------------------===//

def Flash_AttentionGradOp : Flash_Op<"attention_grad",
    [Pure, AttrSizedOperandSegments]> {
  let summary = "Gradient of flash.attention with respect to Q, K and V";
  let description = !strconcat([{
    Given the forward operands `query`, `key`, `value`, the forward
    `output`, the gradient of the loss with respect to it (`grad_output`,
    shaped like `output`) and the forward log-sum-exp `lse` (`[B, Hq, Lq]`,
    f32), returns `dQ`, `dK` and `dV`, shaped and typed like `query`,
    `key` and `value`. The probabilities are recomputed from `lse`:
    `P = exp(S − lse)`, `D = rowsum(dO ∘ O)`, `dV = Pᵀ dO`,
    `dS = P ∘ (dO Vᵀ − D)`, `dQ = scale · dS K`, `dK = scale · dSᵀ Q`
    (with the softcap's derivative applied to `dS` when it is set). For
    grouped-query attention, `dK` and `dV` sum over the query heads that
    share a key/value head. The mask, layout and score attributes must be
    those of the forward op.

  }], Flash_SharedDescription);

  let arguments = !con((ins
    Flash_FloatTensor:$query,
    Flash_FloatTensor:$key,
    Flash_FloatTensor:$value,
    Flash_FloatTensor:$output,
    Flash_FloatTensor:$grad_output,
    RankedTensorOf<[F32]>:$lse), Flash_SharedMaskArgs);
  let results = (outs Flash_FloatTensor:$grad_query,
                      Flash_FloatTensor:$grad_key,
                      Flash_FloatTensor:$grad_value);

  let assemblyFormat = !strconcat(
    "$query `,` $key `,` $value `,` $output `,` $grad_output `,` $lse",
    Flash_SharedMaskFormat, [{
    attr-dict `:` type($query) `,` type($key) `,` type($value) `,`
    type($output) `,` type($grad_output) `,` type($lse) `->` type(results)
  }]);

  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The scale applied to Q Kᵀ: the `scale` attribute, or 1/sqrt(D).
    double getScaleValue();
  }];
}

//===----------------------------------------------------------------------===//
// BlockSparseLayoutOp
//===----------------------------------------------------------------------===//

def Flash_BlockSparseLayoutOp : Flash_Op<"block_sparse_layout", [Pure]> {
  let summary = "Builds a block-sparse layout (count + index lists) from a "
                "tile mask";
  let description = [{
    Turns a boolean tile mask `[B, H, NQ, NKV]` (true = the tile is live)
    into the CSR form that `flash.attention` takes: `num_blocks[b, h, t]`
    is the number of live key tiles of query tile `t`, and
    `indices[b, h, t, 0 .. num_blocks)` lists them in increasing order; the
    remaining entries are 0. Build the `full_*` lists by applying it to a
    mask of the tiles that need no element mask.

    ```mlir
    %n, %idx = flash.block_sparse_layout %tiles
        : tensor<1x1x4x4xi1> -> tensor<1x1x4xi32>, tensor<1x1x4x4xi32>
    ```
  }];
  let arguments = (ins RankedTensorOf<[I1]>:$tile_mask);
  let results = (outs Flash_IndexTensor:$num_blocks,
                      Flash_IndexTensor:$indices);
  let assemblyFormat = [{
    $tile_mask attr-dict `:` type($tile_mask) `->` type($num_blocks) `,`
    type($indices)
  }];
  let builders = [
    OpBuilder<(ins "::mlir::Value":$tileMask)>
  ];
  let hasVerifier = 1;
}

#endif // FLASH_DIALECT_FLASH_IR_FLASHOPS_TD
