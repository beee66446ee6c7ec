//===- KernelABI.cpp - The block-sparse staging of the kernel ABI ---------===//

#include "flash/Conversion/FlashToGPU/KernelABI.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

using namespace mlir;
using namespace mlir::flash;

LayoutStaging mlir::flash::getLayoutStaging(OpBuilder &b, Location loc,
                                            Value numKeyBlocks,
                                            Value tilesPerBlock) {
  auto cst = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v).getResult();
  };
  LayoutStaging staging;
  staging.tileWords = arith::AddIOp::create(
      b, loc, arith::MulIOp::create(b, loc, numKeyBlocks, tilesPerBlock),
      cst(1));
  staging.bitmapWords = arith::CeilDivUIOp::create(
      b, loc, numKeyBlocks, cst(LayoutStaging::kBlocksPerBitmapWord));
  return staging;
}

Value LayoutStaging::getBytes(OpBuilder &b, Location loc) const {
  auto cst = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v).getResult();
  };
  Value bitmaps = arith::MulIOp::create(b, loc, bitmapWords, cst(kNumBitmaps));
  Value words = arith::AddIOp::create(b, loc, tileWords, bitmaps);
  return arith::MulIOp::create(b, loc, words, cst(kWordBytes));
}
