//===- KernelBuilder.cpp - The vocabulary of the GPU kernels' IR ----------===//

#include "KernelBuilder.h"

#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace mlir::flash::detail;

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
