//===- KernelBuilder.cpp - The vocabulary of the GPU kernels' IR ----------===//

#include "KernelBuilder.h"

#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace mlir::flash::detail;

LLVM::InlineAsmOp KernelBuilder::inlinePTX(TypeRange results,
                                           ValueRange operands, StringRef text,
                                           StringRef constraints) {
  return LLVM::InlineAsmOp::create(
      b, loc, results, operands, text, constraints,
      /*has_side_effects=*/true, /*is_align_stack=*/false,
      LLVM::TailCallKind::None,
      LLVM::AsmDialectAttr::get(b.getContext(), LLVM::AsmDialect::AD_ATT),
      /*operand_attrs=*/ArrayAttr());
}

Value KernelBuilder::opaque(Value v) {
  Type i64 = b.getI64Type();
  bool isIndex = v.getType().isIndex();
  Value asInt = isIndex ? arith::IndexCastOp::create(b, loc, i64, v) : v;
  Value same =
      inlinePTX(i64, asInt, "mov.b64 $0, $1;", "=l,l").getResult(0);
  if (!isIndex)
    return same;
  return arith::IndexCastOp::create(b, loc, b.getIndexType(), same);
}

Value KernelBuilder::loadAcquire(Value address) {
  return inlinePTX(i32, address,
                   "ld.acquire.gpu.global.u32 $0, [$1];", "=r,l")
      .getResult(0);
}

void KernelBuilder::storeRelease(Value address, Value value) {
  inlinePTX({}, {address, value},
            "st.release.gpu.global.u32 [$0], $1;", "l,r");
}

void KernelBuilder::storeRelaxed(Value address, Value value) {
  inlinePTX({}, {address, value}, "st.global.u32 [$0], $1;", "l,r");
}

void KernelBuilder::reduceAddPair(Value address, Value x0, Value x1) {
  inlinePTX({}, {address, x0, x1}, "red.global.add.v2.f32 [$0], {$1, $2};",
            "l,f,f");
}

void KernelBuilder::fenceAcqRel() {
  inlinePTX({}, {}, "fence.acq_rel.gpu;", "");
}

SmallVector<Type> KernelBuilder::getParamTypes(
    ArrayRef<KernelParam> params,
    function_ref<Type(unsigned position, int64_t rank)> memrefType) {
  SmallVector<Type> types;
  for (auto [position, param] : llvm::enumerate(params)) {
    switch (param.kind) {
    case KernelParamKind::Memref4:
      types.push_back(memrefType(position, 4));
      break;
    case KernelParamKind::Memref3:
      types.push_back(memrefType(position, 3));
      break;
    case KernelParamKind::F32:
      types.push_back(f32);
      break;
    case KernelParamKind::I64:
      types.push_back(b.getI64Type());
      break;
    }
  }
  return types;
}

SmallVector<Value>
KernelBuilder::emitIf(Value cond, TypeRange types,
                      function_ref<SmallVector<Value>()> thenFn,
                      function_ref<SmallVector<Value>()> elseFn) {
  auto ifOp = scf::IfOp::create(b, loc, types, cond, /*withElseRegion=*/true);
  OpBuilder::InsertionGuard guard(b);
  for (auto [block, fn] : {std::make_pair(ifOp.thenBlock(), thenFn),
                           std::make_pair(ifOp.elseBlock(), elseFn)}) {
    if (!block->empty())
      block->back().erase();
    b.setInsertionPointToEnd(block);
    SmallVector<Value> values = fn();
    scf::YieldOp::create(b, loc, values);
  }
  return SmallVector<Value>(ifOp.getResults());
}
