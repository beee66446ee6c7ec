//===- FlashDialect.td - The flash dialect -----------------*- tablegen -*-===//
//
// The flash dialect: exact attention, forward and backward, dense and
// block-sparse, as first-class operations.
//
//===----------------------------------------------------------------------===//

#ifndef FLASH_DIALECT_FLASH_IR_FLASHDIALECT_TD
#define FLASH_DIALECT_FLASH_IR_FLASHDIALECT_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

def Flash_Dialect : Dialect {
  let name = "flash";
  let cppNamespace = "::mlir::flash";
  let summary = "Exact attention (FlashAttention) as first-class operations";
  let description = [{
    The `flash` dialect represents scaled dot-product attention,
    `softmax(Q Kᵀ · scale + mask) V`, and its gradient as single operations,
    so that compiler passes can tile them into the IO-aware online-softmax
    form of the FlashAttention paper instead of materializing the
    `Lq × Lk` score matrix.

    Tensors use the PyTorch SDPA layout `[batch, heads, length, head_dim]`.
    Grouped-query attention is expressed by giving the key and value fewer
    heads than the query: query head `h` reads key/value head
    `h / (Hq / Hkv)`.
  }];
  let useDefaultAttributePrinterParser = 1;
  let dependentDialects = [
    "::mlir::tensor::TensorDialect"
  ];
}

//===----------------------------------------------------------------------===//
// Mask kinds
//===----------------------------------------------------------------------===//

def Flash_MaskKind : I32EnumAttr<"MaskKind",
    "structural mask applied to the attention scores", [
      I32EnumAttrCase<"None", 0, "none">,
      I32EnumAttrCase<"CausalTopLeft", 1, "causal">,
      I32EnumAttrCase<"CausalBottomRight", 2, "causal_bottom_right">,
      I32EnumAttrCase<"SlidingWindow", 3, "sliding_window">
    ]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::flash";
}

def Flash_MaskKindAttr : EnumAttr<Flash_Dialect, Flash_MaskKind, "mask"> {
  let summary = "Structural mask: none, causal (top-left or bottom-right), "
                "or sliding window";
  let description = [{
    With query position `i` in `[0, Lq)` and key position `j` in `[0, Lk)`:
    - `none`: every key is visible;
    - `causal`: key `j` is visible iff `j <= i` (aligned top-left);
    - `causal_bottom_right`: iff `j <= i + Lk - Lq` (aligned bottom-right,
      the convention for decoding with a KV cache);
    - `sliding_window`: iff `i' - left <= j <= i' + right` with
      `i' = i + Lk - Lq` (the bottom-right frame), where `left` and `right`
      are the op's `window` attribute.
  }];
  let assemblyFormat = "`<` $value `>`";
}

#endif // FLASH_DIALECT_FLASH_IR_FLASHDIALECT_TD
