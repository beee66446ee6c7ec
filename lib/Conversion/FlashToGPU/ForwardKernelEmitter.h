//===- ForwardKernelEmitter.h - The forward kernel's emitter -*- C++ -*-===//
//
// The emitter of the forward kernel (ForwardKernel.cpp describes the
// schedule), shared by the files that build its parts: the skeleton, the
// key loop and the epilogue (ForwardKernel.cpp), the tiles' copies
// (TileCopies.cpp), the online softmax of a key tile (OnlineSoftmax.cpp),
// the causal grid order (GridSchedule.cpp) and the block-sparse staging and
// loop (BlockSparse.cpp). The products run on an MmaFlavor (MmaFlavor.h).
//
//===----------------------------------------------------------------------===//

#ifndef LIB_CONVERSION_FLASHTOGPU_FORWARDKERNELEMITTER_H
#define LIB_CONVERSION_FLASHTOGPU_FORWARDKERNELEMITTER_H

#include "Dropout.h"
#include "KernelBuilder.h"
#include "MmaFlavor.h"

#include "flash/Conversion/FlashToGPU/KernelPlan.h"
#include "flash/Dialect/Flash/IR/KeyBand.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <memory>

namespace mlir::flash::detail {

class ForwardKernelEmitter : public KernelBuilder {
public:
  ForwardKernelEmitter(OpBuilder &b, Location loc, const KernelSpec &spec,
                       const KernelPlan &plan)
      : KernelBuilder(b, loc), spec(spec), plan(plan),
        elt(spec.getElementType(b.getContext())),
        mma(createMmaFlavor(*this, spec, plan)) {}

  gpu::GPUFuncOp emit();

private:
  // Kernel pieces.
  void copyTile(Value src, Value head, Value row0, Value len, Value dst,
                Value stage, int64_t rows, bool inBounds);
  void copyWholeRows(Value src, Value head, Value row0, Value len, Value dst,
                     Value stage, int64_t copies, Value r0, Value c0,
                     int64_t rowsPerCopy, bool inBounds);
  std::pair<Value, Value> visibleKeys(Value row, Value band);
  /// Query row (within the sequence) of the thread's row `r` = 2 · slice +
  /// (0 for g, 1 for g + 8).
  Value threadRow(int64_t r) {
    return add(add(tileRow0, add(warpRow0, idx(plan.getSliceRows() * (r / 2) +
                                                8 * (r % 2)))),
               groupRow);
  }
  /// Folds the tile in `stage` into `state`; `scores` are its Q Kᵀ when
  /// already computed (KernelPlan::scoresBeforeCopies).
  void computeTile(Value stage, Value keyTile, bool masked, WarpState &state,
                   Value band = nullptr, const Scores *scores = nullptr);
  /// Zeroes the probabilities `p` of the key tile from `keyBase` that
  /// dropout drops (Dropout.h).
  void dropProbabilities(Scores &p, Value keyBase);

  /// What one iteration of the key loop does: the key tile it visits,
  /// whether that tile skips the element mask (`unmasked`), and whether
  /// masked scores apply the structural band (`band`; null: always).
  struct KeyVisit {
    Value tile, unmasked, band;
  };
  /// Whether key tile `keyTile` ends before the key length (`whole`), and
  /// whether it is moreover inside the structural band for every query row
  /// of the CTA (`inBand`): such a tile needs no element mask.
  struct TileCoverage {
    Value whole, inBand;
  };
  TileCoverage coverTile(Value keyTile);
  /// Dense kernels: iteration `keyTile` visits key tile `keyTile`.
  KeyVisit visitDense(Value keyTile);

  // Block-sparse kernels stage the live key tiles of the CTA's row of the
  // layout in shared memory, then walk them: iteration i visits staged
  // tile i; a -1 ends the list.
  void stageSparseRow(ValueRange layoutArgs, Value smem);
  void compactStagedTiles(Value bits, Value words, Value tilesPerBlock);
  Value compactTile(Value tile, Value marked, Value isFull, Value end);
  Value loadStagedTile(Value pos);
  Value stagedKeyTile(Value staged);
  void prefetchStaged(Value staged, Value stage);
  KeyVisit visitSparse(Value staged);

  // The key loop.
  void prefetchTile(Value keyTile, Value stage);
  SmallVector<Value> foldTile(ValueRange carried, Value stage,
                              function_ref<void()> prefetchNext,
                              function_ref<KeyVisit()> visitFn);
  SmallVector<Value> emitDenseLoop(ValueRange init);
  SmallVector<Value> emitSparseLoop(ValueRange init);

  const KernelSpec &spec;
  const KernelPlan &plan;
  Type elt;
  /// The tensor-core instructions of the two products.
  std::unique_ptr<MmaFlavor> mma;
  /// Kernels with dropout: the random bits.
  std::unique_ptr<DropoutMask> dropout;

  // Values of the kernel body.
  Value q, k, v, o, lse, scaleLog2, windowLeft, windowRight;
  Value batch, head, kvHead, tid, lane, warp, groupRow, groupCol;
  Value queryLen, keyLen, offset, tileRow0;
  Value warpRow0; // the warp's first row within the query tile
  // Key tiles that can hold a visible key, [tileBegin, tileEnd), and the
  // CTA's last query row.
  Value tileBegin, tileEnd, lastRow;
  // The keys the structural mask lets each row see.
  KeyBand keyBand{MaskKind::None, nullptr};
  // Block-sparse kernels: the staged tiles (i32 in shared memory).
  Value sTiles;
  Value sQ, sK, sV;
};

} // namespace mlir::flash::detail

#endif // LIB_CONVERSION_FLASHTOGPU_FORWARDKERNELEMITTER_H
