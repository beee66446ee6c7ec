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
  // What the GPU lowering stamps on each kernel it generates.
  let discardableAttrs = (ins
    "::mlir::flash::KernelPlanAttr":$kernel_plan
  );
  let hasOperationAttrVerify = 1;
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

//===----------------------------------------------------------------------===//
// Kernel plans
//===----------------------------------------------------------------------===//

def Flash_KernelPlanAttr : AttrDef<Flash_Dialect, "KernelPlan"> {
  let mnemonic = "kernel_plan";
  let summary = "The schedule of a generated GPU kernel";
  let description = [{
    `convert-flash-to-gpu` stamps each `gpu.func` it generates with the plan
    it chose (the plan table of lib/Conversion/FlashToGPU/KernelPlan.cpp,
    with the pass's overrides applied) as the discardable attribute
    `flash.kernel_plan`. The parameters are the keys of the manifest's
    `config` (docs/kernel-abi.md).

    ```mlir
    gpu.func @flash_fwd_d64_f16_causal_sm_80(...) kernel attributes {
        flash.kernel_plan = #flash.kernel_plan<cta_q = 128, cta_kv = 80,
          warps = 4, slices_per_warp = 2, stages = 2,
          query_in_registers = true, warpgroup_mma = false,
          min_ctas_per_sm = 1, scores_before_copies = false,
          copy_pointers = true>, ...}
    ```
  }];
  let parameters = (ins
    AttrParameter<"int64_t", "query rows one CTA computes: 16 x warps x "
                  "slices_per_warp">:$cta_q,
    AttrParameter<"int64_t", "keys per streamed K/V tile">:$cta_kv,
    AttrParameter<"int64_t", "warps per CTA">:$warps,
    AttrParameter<"int64_t", "16-row (mma.sync) or 64-row (warpgroup MMA) "
                  "slices of each warp">:$slices_per_warp,
    AttrParameter<"int64_t", "cp.async stages of the K and V tiles">:$stages,
    AttrParameter<"bool", "whether Q's fragments stay in registers for the "
                  "whole key loop">:$query_in_registers,
    AttrParameter<"bool", "whether the products are Hopper warpgroup MMAs "
                  "(wgmma) rather than mma.sync">:$warpgroup_mma,
    AttrParameter<"int64_t", "the .minnctapersm given to "
                  "ptxas">:$min_ctas_per_sm,
    AttrParameter<"bool", "whether each tile's Q K^T is issued before the "
                  "next tile's copies">:$scores_before_copies,
    AttrParameter<"bool", "whether the K and V copies are addressed by "
                  "per-thread pointers">:$copy_pointers
  );
  let assemblyFormat = "`<` struct(params) `>`";
}

#endif // FLASH_DIALECT_FLASH_IR_FLASHDIALECT_TD
