//===- Dropout.cpp - Attention dropout's random bits ----------------------===//

#include "Dropout.h"

using namespace mlir;
using namespace mlir::flash;
using namespace mlir::flash::detail;

namespace {

// Philox4x32's multipliers and Weyl constants (the key's increments).
constexpr uint32_t kMultiplier0 = 0xD2511F53, kMultiplier1 = 0xCD9E8D57;
constexpr uint32_t kWeyl0 = 0x9E3779B9, kWeyl1 = 0xBB67AE85;
constexpr int kRounds = 10;

} // namespace

DropoutMask::DropoutMask(const KernelBuilder &builder, ValueRange params)
    : KernelBuilder(builder) {
  seed = params[kDropoutSeed];
  offsetLo = arith::TruncIOp::create(b, loc, i32, params[kDropoutOffset]);
  keep = arith::TruncIOp::create(b, loc, i32, params[kDropoutKeep]);
}

Value DropoutMask::mulHigh(Value x, Value y) {
  // Not arith.mului_extended: LLVM lowers it through 64-bit products, and
  // then widens the whole generator to 64 bits.
  return LLVM::CallIntrinsicOp::create(b, loc, i32,
                                       b.getStringAttr("llvm.nvvm.mulhi.ui"),
                                       ValueRange{x, y})
      .getResult(0);
}

Value DropoutMask::toI32(Value index) {
  return arith::IndexCastUIOp::create(b, loc, i32, index);
}

void DropoutMask::setHead(Value batch, Value head, Value queryHeads) {
  headWord = toI32(add(mul(batch, queryHeads), head));
}

Value DropoutMask::getQueryGroup(Value row) {
  return toI32(add(mul(divu(row, 16), 8), remu(row, 8)));
}

Value DropoutMask::getKeyGroup(Value key) {
  return toI32(add(mul(divu(key, 16), 4), divu(remu(key, 8), 2)));
}

SmallVector<Value, 4> DropoutMask::draw(Value keyGroup, Value queryGroup) {
  assert(headWord && "setHead before draw");
  SmallVector<Value, 4> c = {keyGroup, queryGroup, headWord, offsetLo};
  // The key schedule is computed anew for each draw: hoisted out of the
  // kernels' loops, its 20 words would hold registers for the whole loop.
  Value key = opaque(seed);
  Value k0 = arith::TruncIOp::create(b, loc, i32, key);
  Value k1 = arith::TruncIOp::create(
      b, loc, i32, arith::ShRUIOp::create(b, loc, key, i64c(32)));
  Value m0 = i32c(static_cast<int32_t>(kMultiplier0));
  Value m1 = i32c(static_cast<int32_t>(kMultiplier1));
  auto xori = [&](Value x, Value y) {
    return arith::XOrIOp::create(b, loc, x, y).getResult();
  };
  for (int round = 0; round < kRounds; ++round) {
    if (round) {
      k0 = add(k0, i32c(static_cast<int32_t>(kWeyl0)));
      k1 = add(k1, i32c(static_cast<int32_t>(kWeyl1)));
    }
    c = {xori(xori(mulHigh(m1, c[2]), c[1]), k0), mul(m1, c[2]),
         xori(xori(mulHigh(m0, c[0]), c[3]), k1), mul(m0, c[0])};
  }
  return c;
}

Value DropoutMask::isKept(ArrayRef<Value> words, int64_t rowHalf,
                          int64_t keyHalf, Value keyParity) {
  Value word = words[2 * rowHalf + keyHalf];
  Value shifted = arith::ShRUIOp::create(
      b, loc, word, arith::MulIOp::create(b, loc, keyParity, i32c(16)));
  Value bits = arith::AndIOp::create(b, loc, shifted, i32c(0xFFFF));
  return cmpi(arith::CmpIPredicate::ult, bits, keep);
}

Value DropoutMask::getKeptScale() {
  Value keepF = arith::UIToFPOp::create(b, loc, f32, keep);
  Value none = cmpi(arith::CmpIPredicate::eq, keep, i32c(0));
  return select(none, f32c(0.0),
                arith::DivFOp::create(b, loc, f32c(65536.0), keepF));
}
