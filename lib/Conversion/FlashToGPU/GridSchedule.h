//===- GridSchedule.h - Which CTA computes which query tile -----*- C++ -*-===//
//
// The grid of a kernel that walks query tiles (the forward, and later the
// kernels built like it): which (query tile, head, batch) a CTA computes.
//
//===----------------------------------------------------------------------===//

#ifndef LIB_CONVERSION_FLASHTOGPU_GRIDSCHEDULE_H
#define LIB_CONVERSION_FLASHTOGPU_GRIDSCHEDULE_H

#include "KernelBuilder.h"

#include "flash/Conversion/FlashToGPU/KernelPlan.h"

namespace mlir::flash::detail {

/// The query tile, query head and batch of the current CTA (index values).
struct CtaTile {
  Value queryTile, head, batch;
};

/// Maps the CTA of a grid of (query tiles, query heads, batch) to its tile:
/// one to one, or under a causal mask of `spec` longest tiles first across
/// heads, in sections of KernelPlan::getSMsPerCausalSectionPair().
CtaTile mapCtaToTile(KernelBuilder &kb, const KernelSpec &spec,
                     const KernelPlan &plan);

} // namespace mlir::flash::detail

#endif // LIB_CONVERSION_FLASHTOGPU_GRIDSCHEDULE_H
