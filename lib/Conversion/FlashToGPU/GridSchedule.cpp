//===- GridSchedule.cpp - Which CTA computes which query tile -------------===//
//
// The mapping of the forward kernel's CTAs to (query tile, head, batch)
// under causal masks (ForwardKernel.cpp describes the schedule).
//
//===----------------------------------------------------------------------===//

#include "ForwardKernelEmitter.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

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
Value ForwardKernelEmitter::scheduleCausalTile() {
  auto i32Of = [&](Value v) {
    return arith::IndexCastUIOp::create(b, loc, i32, v).getResult();
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
  Value pairs = mul(heads, batches);
  Value linear = add(tile, mul(tiles, add(headId, mul(heads, batchId))));
  Value sms = NVVM::SmDimOp::create(b, loc, i32);
  Value share =
      divu(sms, i32c(static_cast<int32_t>(plan.getSMsPerCausalSectionPair())));
  Value sectionPairs = arith::MaxUIOp::create(b, loc, share, i32c(1));
  Value sectionCtas = mul(sectionPairs, tiles);
  Value first = mul(divu(linear, sectionCtas), sectionPairs);
  Value within = remu(linear, sectionCtas);
  Value inSection =
      arith::MinUIOp::create(b, loc, sectionPairs, sub(pairs, first));
  Value pair = add(first, remu(within, inSection));
  Value rank = divu(within, inSection);
  auto index = [&](Value v) {
    return arith::IndexCastUIOp::create(b, loc, b.getIndexType(), v)
        .getResult();
  };
  head = index(remu(pair, heads));
  batch = index(divu(pair, heads));
  return index(sub(sub(tiles, i32c(1)), rank));
}

