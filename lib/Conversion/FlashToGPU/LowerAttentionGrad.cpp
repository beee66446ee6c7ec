//===- LowerAttentionGrad.cpp - flash.attention_grad to launches ----------===//
//
// A flash.attention_grad op becomes the three backward kernels of its spec
// (BackwardKernel.h), built once per spec in @flash_kernels, and their
// launches in order on one stream, as docs/kernel-abi.md ("Backward
// kernels") and the runtime (lib/Runtime/Backward.cpp) launch them:
//
//   preprocessing  (ceil(Lq / 16), Hq, B) CTAs of 128 threads;
//   main           (ceil(Lk / cta_kv), Hkv, B) CTAs of 32 · warps threads
//                  with the plan's dynamic shared memory;
//   dQ             as the preprocessing.
//
// The three take one argument list (KernelABI.h's kBackwardParams). Its
// workspaces, delta [B, Hq, Lq] and the dQ accumulator [B, Hq, Lq, D] (f32),
// are allocated per op and freed once the launches are done. The op has no
// gradient of the lse: dlse is a buffer of zeros, the kernels' null pointer
// having no spelling in memref IR. dq_semaphores is 0: the dQ additions of
// the key tiles land in any order (the kernels' non-deterministic mode).
//
//===----------------------------------------------------------------------===//

#include "LowerAttentionGrad.h"

#include "KernelLaunch.h"

#include "flash/Conversion/FlashToGPU/BackwardKernel.h"
#include "flash/Conversion/FlashToGPU/FlashToGPU.h"
#include "flash/Conversion/FlashToGPU/KernelABI.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

#include <array>

using namespace mlir;
using namespace mlir::flash;
using namespace mlir::flash::detail;

FailureOr<PlannedBackward>
mlir::flash::planAttentionGradKernels(AttentionGradOp op, Chip chip,
                                      std::string &reason) {
  FailureOr<KernelSpec> spec = getKernelSpec(op, chip, reason);
  if (failed(spec))
    return failure();
  llvm::Expected<BackwardPlan> plan = planBackwardKernel(*spec);
  if (!plan) {
    reason = llvm::toString(plan.takeError());
    return failure();
  }
  return PlannedBackward{*spec, *plan};
}

namespace {

/// The backward kernels of a spec in launch order.
struct BackwardKernels {
  gpu::GPUFuncOp preprocess, main, queryGrad;
};

} // namespace

/// The backward kernels of `planned` in `kernels`, built on first use. A
/// module that has some of them but not all (written by hand, or by another
/// tool) is an error on `op`.
static FailureOr<BackwardKernels>
getOrBuildBackwardKernels(AttentionGradOp op, gpu::GPUModuleOp kernels,
                          const PlannedBackward &planned, OpBuilder &b) {
  // The symbols that buildBackwardKernels gives them.
  std::string name = planned.spec.getName();
  std::array<std::string, 3> names = {name + "_preprocess", name, name + "_dq"};
  std::array<gpu::GPUFuncOp, 3> funcs;
  auto lookUp = [&] {
    for (auto [func, symbol] : llvm::zip_equal(funcs, names))
      func = kernels.lookupSymbol<gpu::GPUFuncOp>(symbol);
  };
  lookUp();
  if (llvm::none_of(funcs, [](gpu::GPUFuncOp func) { return bool(func); })) {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToEnd(kernels.getBody());
    buildBackwardKernels(b, op.getLoc(), planned.spec, planned.plan);
    lookUp();
  }
  for (auto [func, symbol] : llvm::zip_equal(funcs, names))
    if (!func)
      return op.emitError()
             << "@" << kKernelModuleName << " has backward kernels of " << name
             << " but not " << symbol;
  return BackwardKernels{funcs[0], funcs[1], funcs[2]};
}

LogicalResult mlir::flash::detail::lowerAttentionGrad(AttentionGradOp op,
                                                      Chip chip,
                                                      ModuleOp module,
                                                      OpBuilder &b) {
  std::string reason;
  FailureOr<PlannedBackward> planned =
      planAttentionGradKernels(op, chip, reason);
  if (failed(planned)) {
    op.emitRemark() << "not lowered to a GPU kernel: " << reason;
    return success();
  }
  FailureOr<BackwardKernels> kernels = getOrBuildBackwardKernels(
      op, getOrCreateKernelModule(module, b), *planned, b);
  if (failed(kernels))
    return failure();

  Location loc = op.getLoc();
  b.setInsertionPoint(op);
  FunctionType kernelType = kernels->main.getFunctionType();
  SmallVector<Value> args(kNumBackwardParams);
  auto input = [&](BackwardParam param, Value tensor) {
    args[param] = toKernelBuffer(b, loc, tensor, kernelType.getInput(param));
    return args[param];
  };
  Value q = input(kGradQuery, op.getQuery());
  Value k = input(kGradKey, op.getKey());
  Value v = input(kGradValue, op.getValue());
  input(kGradOutput, op.getOutput());
  input(kGradOutputGrad, op.getGradOutput());
  input(kGradLse, op.getLse());

  // The gradients and the workspaces, their dynamic extents read off q, k
  // and v.
  auto output = [&](BackwardParam param, ArrayRef<int64_t> shape,
                    Type elementType, Value like) {
    Value buffer = allocBuffer(b, loc, shape, elementType, like);
    args[param] =
        memref::CastOp::create(b, loc, kernelType.getInput(param), buffer);
    return buffer;
  };
  auto typeOf = [](Value value) { return cast<ShapedType>(value.getType()); };
  ShapedType queryType = typeOf(op.getGradQuery());
  ShapedType keyType = typeOf(op.getGradKey());
  ShapedType valueType = typeOf(op.getGradValue());
  Type f32 = b.getF32Type();
  ArrayRef<int64_t> rowShape = queryType.getShape().take_front(3);
  Value dq = output(kGradQueryGrad, queryType.getShape(),
                    queryType.getElementType(), q);
  Value dk =
      output(kGradKeyGrad, keyType.getShape(), keyType.getElementType(), k);
  Value dv = output(kGradValueGrad, valueType.getShape(),
                    valueType.getElementType(), v);
  Value delta = output(kGradDelta, rowShape, f32, q);
  Value accum = output(kGradQueryAccum, queryType.getShape(), f32, q);
  Value noLseGrad = output(kGradLseGrad, rowShape, f32, q);

  ScoreArgs score = createScoreArgs(b, loc, op.getScaleValue(), op.getWindow());
  args[kGradScaleLog2] = score.scaleLog2;
  args[kGradWindowLeft] = score.windowLeft;
  args[kGradWindowRight] = score.windowRight;
  args[kGradQuerySemaphores] =
      arith::ConstantIntOp::create(b, loc, b.getI64Type(), 0);

  auto dim = [&](Value buffer, int64_t d) {
    return b.createOrFold<memref::DimOp>(loc, buffer, d);
  };
  const BackwardPlan &plan = planned->plan;
  gpu::KernelDim3 rowGrid{ceilDiv(b, loc, dim(q, 2), kBackwardRowsPerCta),
                          dim(q, 1), dim(q, 0)};
  gpu::KernelDim3 keyGrid{ceilDiv(b, loc, dim(k, 2), plan.ctaKV), dim(k, 1),
                          dim(k, 0)};
  auto i32 = [&](int64_t value) -> Value {
    return arith::ConstantIntOp::create(b, loc, b.getI32Type(), value);
  };
  Value noSharedMemory = i32(0);
  Value sharedMemory = i32(plan.getSharedMemoryBytes());

  // One stream, in order: dlse zeroed, then the three kernels.
  Type tokenType = gpu::AsyncTokenType::get(b.getContext());
  Value token =
      gpu::WaitOp::create(b, loc, tokenType, ValueRange()).getAsyncToken();
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0));
  token = gpu::MemsetOp::create(b, loc, tokenType, token, noLseGrad, zero)
              .getAsyncToken();
  token = launchKernel(b, loc, kernels->preprocess, rowGrid,
                       kBackwardRowThreads, noSharedMemory, args, token);
  token = launchKernel(b, loc, kernels->main, keyGrid, plan.getThreads(),
                       sharedMemory, args, token);
  token = launchKernel(b, loc, kernels->queryGrad, rowGrid, kBackwardRowThreads,
                       noSharedMemory, args, token);
  gpu::WaitOp::create(b, loc, Type(), token);
  for (Value workspace : {delta, accum, noLseGrad})
    memref::DeallocOp::create(b, loc, workspace);

  SmallVector<Value> results = {toResultTensor(b, loc, queryType, dq),
                                toResultTensor(b, loc, keyType, dk),
                                toResultTensor(b, loc, valueType, dv)};
  op->replaceAllUsesWith(results);
  op->erase();
  return success();
}
