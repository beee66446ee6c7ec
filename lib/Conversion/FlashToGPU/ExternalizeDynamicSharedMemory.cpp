//===- ExternalizeDynamicSharedMemory.cpp - Size shared memory at launch --===//

#include "flash/Conversion/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"

namespace mlir::flash {
#define GEN_PASS_DEF_FLASHEXTERNALIZEDYNAMICSHAREDMEMORY
#include "flash/Conversion/Passes.h.inc"
} // namespace mlir::flash

using namespace mlir;

namespace {
struct FlashExternalizeDynamicSharedMemoryPass
    : flash::impl::FlashExternalizeDynamicSharedMemoryBase<
          FlashExternalizeDynamicSharedMemoryPass> {
  void runOnOperation() override {
    auto sharedSpace =
        static_cast<unsigned>(NVVM::NVVMMemorySpace::Shared);
    getOperation().walk([&](LLVM::GlobalOp global) {
      // The dynamic shared memory global is the zero-length array in the
      // shared address space that convert-gpu-to-nvvm creates.
      auto array = dyn_cast<LLVM::LLVMArrayType>(global.getGlobalType());
      if (global.getAddrSpace() != sharedSpace || !array ||
          array.getNumElements() != 0)
        return;
      global.setLinkage(LLVM::Linkage::External);
    });
  }
};
} // namespace
