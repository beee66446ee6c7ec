//===- Passes.td - flash conversion passes -----------------*- tablegen -*-===//

#ifndef FLASH_CONVERSION_PASSES_TD
#define FLASH_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

// An override of the plan: a size. Not given, the plan table's (the value
// 0 stands for that, and the pass's option parser rejects a 0 given).
class PlanSizeOption<string varName, string arg, string help>
    : Option<varName, arg, "int64_t", /*default=*/"0",
             "Override the plan: " # help # " (not given: the plan "
             "table's)">;

// An override of the plan: yes or no, `table` leaving the plan table's.
class PlanFlagOption<string varName, string arg, string help>
    : Option<varName, arg, "::mlir::flash::PlanFlag",
             /*default=*/"::mlir::flash::PlanFlag::Table",
             "Override the plan: " # help # " (yes or no; table: the plan "
             "table's)",
             [{::llvm::cl::values(
                 clEnumValN(::mlir::flash::PlanFlag::Table, "table",
                            "the plan table's choice"),
                 clEnumValN(::mlir::flash::PlanFlag::Yes, "yes", "yes"),
                 clEnumValN(::mlir::flash::PlanFlag::No, "no", "no"))}]>;

def ConvertFlashToGPU : Pass<"convert-flash-to-gpu", "ModuleOp"> {
  let summary = "Lower flash.attention and flash.attention_grad to "
                "tensor-core GPU kernels and launches";
  let description = [{
    For each `flash.attention` op, derives a kernel spec (head dim, element
    type, mask kind, chip), adds the FlashAttention-2 forward kernel of that
    spec to the `gpu.module @flash_kernels` (once per spec) and replaces the
    op with a `gpu.launch_func` on buffers, following docs/kernel-abi.md.
    The tile sizes, warps and stages come from the plan table
    (KernelPlan.cpp). On the chips that have them (the chip table,
    docs/kernel-abi.md) the products are Hopper warpgroup MMAs (wgmma); on
    the others, ldmatrix and mma.sync. An op with a
    block-sparse layout gets the block-sparse kernel of its spec, launched
    with the four CSR buffers, the block sizes and the shared memory in
    which the kernel stages its row of the layout.

    For each `flash.attention_grad` op, adds the three backward kernels of
    its spec (preprocessing, main, dQ; once per spec) and replaces the op
    with their launches, in that order on one stream (`gpu.launch_func
    async` after a `gpu.memset` of the zero lse gradient, then a
    `gpu.wait`), on buffers for dQ, dK and dV and on workspaces (delta and
    the f32 dQ accumulator) freed after the launches. The dQ additions are
    not ordered (the kernels' non-deterministic mode). The backward covers
    dense ops up to head dim 128; its plan (planBackwardKernel) is not
    changed by the options below.

    Ops the kernels do not cover yet (f32 operands, a mask operand,
    softcap, a finite `masked_score` with a structural mask, a layout whose
    block sizes are not multiples of the kernel's tiles, head dims other
    than multiples of 8 up to 256, value head dim different from the
    query's, dynamic head dims; for a gradient, a block-sparse layout or a
    head dim over 128) are left in place with a remark saying why.

    The options other than `chip` override the plan table, for measuring
    other schedules (`flash-aot` and the C API pass theirs through to these
    options): each applies to every kernel the pass generates. A size out
    of its range (0 included: not given is the plan table's) is an error
    of the option, and a plan that cannot be generated (e.g. `cta-q=96`
    with four warps, or warpgroup MMAs on a chip without them) is an error
    on the op that names the kernel and the overrides. Each generated
    `gpu.func` carries the plan it was generated with as the attribute `flash.kernel_plan = #flash.kernel_plan<...>`
    (docs/FlashDialect.md), the `config` of its manifest entry; a kernel
    already in `@flash_kernels` with another plan (from a run with other
    overrides) is an error rather than launched with this run's plan.
  }];
  let options = [
    Option<"chip", "chip", "std::string",
           /*default=*/"::mlir::flash::stringifyChip("
                       "::mlir::flash::Chip::SM80).str()",
           "Target chip: a chip of the chip table (docs/kernel-abi.md); "
           "the pass's error for any other lists them">,
    PlanSizeOption<"ctaQ", "cta-q",
                   "query rows one CTA computes, 16 x warps x slices per "
                   "warp, up to 4096">,
    PlanSizeOption<"warps", "warps", "warps per CTA, 1 to 32">,
    PlanSizeOption<"ctaKV", "cta-kv",
                   "keys per streamed K/V tile, a multiple of 16 up to "
                   "4096">,
    PlanSizeOption<"stages", "stages",
                   "cp.async stages of the K and V tiles, 2 to 4; "
                   "block-sparse kernels take 2">,
    PlanSizeOption<"minCTAsPerSM", "min-ctas-per-sm",
                   "CTAs that should share an SM, 1 to 32: the register "
                   "budget that ptxas keeps to; 1 leaves it free">,
    PlanFlagOption<"warpgroupMMA", "warpgroup-mma",
                   "Hopper warpgroup MMAs (wgmma) instead of mma.sync, on "
                   "the chips that have them">,
    PlanFlagOption<"queryInRegisters", "query-in-registers",
                   "keep Q's fragments in registers, mma.sync only">,
    PlanFlagOption<"scoresBeforeCopies", "scores-before-copies",
                   "issue each tile's Q K^T before the next tile's copies, "
                   "warpgroup MMAs only">,
    PlanFlagOption<"copyPointers", "copy-pointers",
                   "address the K and V copies by pointers advanced per "
                   "tile">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::bufferization::BufferizationDialect",
    "::mlir::gpu::GPUDialect",
    "::mlir::LLVM::LLVMDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::NVVM::NVVMDialect",
    "::mlir::nvgpu::NVGPUDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::vector::VectorDialect"
  ];
}

def FlashExternalizeDynamicSharedMemory
    : Pass<"flash-externalize-dynamic-shared-memory", "gpu::GPUModuleOp"> {
  let summary = "Give the dynamic shared memory global external linkage";
  let description = [{
    `convert-gpu-to-nvvm` turns `gpu.dynamic_shared_memory` into an internal
    zero-sized `llvm.mlir.global` in address space 3, which the NVPTX
    backend emits as a 1-byte `.shared` variable: every kernel using more
    than one byte of dynamic shared memory would then overrun it. With
    external linkage the PTX declares `.extern .shared .b8 name[]`, sized
    at launch. Run after `convert-gpu-to-nvvm`.
  }];
}

#endif // FLASH_CONVERSION_PASSES_TD
