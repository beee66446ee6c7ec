//===- GridSchedule.cpp - Which CTA computes which query tile -------------===//
//
// The mapping of a kernel's CTAs to the (query tile, head, batch) each
// computes: the grid's own coordinates, or under causal masks an order
// that runs the longest tiles first.
//
//===----------------------------------------------------------------------===//

#include "GridSchedule.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"

using namespace mlir;
using namespace mlir::flash;
using namespace mlir::flash::detail;

/// Under a causal mask query tile t sees t + 1 tiles of keys (top-left), so
/// the grid should run the longest tiles first, of all heads, and leave the
/// shortest to fill its tail. CTAs start in the order of their linear id
/// (x fastest), which this maps to (query tile, head, batch): the (batch,
/// head) pairs are taken in sections of SMs / getSMsPerCausalSectionPair(),
/// and within a section the tiles go from the last to the first, the
/// section's pairs innermost. One section of all pairs was up to 21% slower
/// than reversing each head's tiles where there are many short heads (B·H =
/// 256, L = 1k): fewer of a head's CTAs run together to share its K and V
/// in L2 (docs/performance.md). The arithmetic is 32-bit: a grid of 2^32
/// CTAs of at least 64 query rows would need more memory than GPUs have.
static CtaTile mapCausalCta(KernelBuilder &kb, const KernelPlan &plan) {
  OpBuilder &b = kb.b;
  Location loc = kb.loc;
  auto i32Of = [&](Value v) {
    return arith::IndexCastUIOp::create(b, loc, kb.i32, v).getResult();
  };
  auto grid = [&](gpu::Dimension dim) {
    return i32Of(gpu::GridDimOp::create(b, loc, dim));
  };
  auto block = [&](gpu::Dimension dim) {
    return i32Of(gpu::BlockIdOp::create(b, loc, dim));
  };
  // One value per statement: the IR's order does not depend on the order
  // in which the compiler evaluates arguments.
  Value tiles = grid(gpu::Dimension::x);
  Value heads = grid(gpu::Dimension::y);
  Value batches = grid(gpu::Dimension::z);
  Value tile = block(gpu::Dimension::x);
  Value headId = block(gpu::Dimension::y);
  Value batchId = block(gpu::Dimension::z);
  Value pairs = kb.mul(heads, batches);
  Value linear =
      kb.add(tile, kb.mul(tiles, kb.add(headId, kb.mul(heads, batchId))));
  Value sms = NVVM::SmDimOp::create(b, loc, kb.i32);
  Value share = kb.divu(
      sms, kb.i32c(static_cast<int32_t>(plan.getSMsPerCausalSectionPair())));
  Value sectionPairs = arith::MaxUIOp::create(b, loc, share, kb.i32c(1));
  Value sectionCtas = kb.mul(sectionPairs, tiles);
  Value first = kb.mul(kb.divu(linear, sectionCtas), sectionPairs);
  Value within = kb.remu(linear, sectionCtas);
  Value inSection =
      arith::MinUIOp::create(b, loc, sectionPairs, kb.sub(pairs, first));
  Value pair = kb.add(first, kb.remu(within, inSection));
  Value rank = kb.divu(within, inSection);
  auto index = [&](Value v) {
    return arith::IndexCastUIOp::create(b, loc, b.getIndexType(), v)
        .getResult();
  };
  Value head = index(kb.remu(pair, heads));
  Value batch = index(kb.divu(pair, heads));
  return {index(kb.sub(kb.sub(tiles, kb.i32c(1)), rank)), head, batch};
}

CtaTile mlir::flash::detail::mapCtaToTile(KernelBuilder &kb,
                                          const KernelSpec &spec,
                                          const KernelPlan &plan) {
  if (spec.mask == MaskKind::CausalTopLeft ||
      spec.mask == MaskKind::CausalBottomRight)
    return mapCausalCta(kb, plan);
  return {gpu::BlockIdOp::create(kb.b, kb.loc, gpu::Dimension::x),
          gpu::BlockIdOp::create(kb.b, kb.loc, gpu::Dimension::y),
          gpu::BlockIdOp::create(kb.b, kb.loc, gpu::Dimension::z)};
}

