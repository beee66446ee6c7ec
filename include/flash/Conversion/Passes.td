//===- Passes.td - flash conversion passes -----------------*- tablegen -*-===//

#ifndef FLASH_CONVERSION_PASSES_TD
#define FLASH_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertFlashToGPU : Pass<"convert-flash-to-gpu", "ModuleOp"> {
  let summary = "Lower flash.attention to tensor-core GPU kernels and launches";
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

    Ops the kernels do not cover yet (f32 operands, a mask operand,
    softcap, a layout whose block sizes are not multiples of the kernel's
    tiles, head dims other than multiples of 8 up to 256, value head dim
    different from the query's, dynamic head dims) are left in place with a
    remark saying why.
  }];
  let options = [
    Option<"chip", "chip", "std::string",
           /*default=*/"::mlir::flash::stringifyChip("
                       "::mlir::flash::Chip::SM80).str()",
           "Target chip: a chip of the chip table (docs/kernel-abi.md); "
           "the pass's error for any other lists them">
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
