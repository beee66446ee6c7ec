//===- FlashToGPU.cpp - flash.attention to GPU kernels and launches -------===//

#include "flash/Conversion/FlashToGPU/FlashToGPU.h"

#include "KernelLaunch.h"
#include "LowerAttentionGrad.h"

#include "flash/Conversion/FlashToGPU/ForwardKernel.h"
#include "flash/Conversion/FlashToGPU/KernelABI.h"
#include "flash/Conversion/FlashToGPU/KernelPlan.h"
#include "flash/Conversion/Passes.h"
#include "flash/Dialect/Flash/IR/FlashOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/TypeSwitch.h"

namespace mlir::flash {
#define GEN_PASS_DEF_CONVERTFLASHTOGPU
#include "flash/Conversion/Passes.h.inc"
} // namespace mlir::flash

using namespace mlir;
using namespace mlir::flash;
using namespace mlir::flash::detail;

static FlashDialect *getFlashDialect(Operation *op) {
  return op->getContext()->getOrLoadDialect<FlashDialect>();
}

/// The plan as the attribute flash.kernel_plan.
static KernelPlanAttr getKernelPlanAttr(MLIRContext *ctx,
                                        const KernelPlan &plan) {
  return KernelPlanAttr::get(ctx, plan.ctaQ, plan.ctaKV, plan.warps,
                             plan.slicesPerWarp, plan.stages,
                             plan.queryInRegisters, plan.warpgroupMMA,
                             plan.minCTAsPerSM, plan.scoresBeforeCopies,
                             plan.copyPointers);
}

namespace {

/// Appends the block-sparse layout of `op` to the launch arguments `args`:
/// the four CSR buffers, then the layout's block_q and block_kv
/// (docs/kernel-abi.md).
/// Returns the shared memory the kernel stages the layout's tiles in.
Value appendLayoutArgs(OpBuilder &b, AttentionOp op, const KernelPlan &plan,
                       FunctionType kernelType, SmallVectorImpl<Value> &args) {
  Location loc = op.getLoc();
  unsigned first = args.size();
  Value counts = toKernelBuffer(b, loc, op.getKvNumBlocks(),
                                kernelType.getInput(first));
  Value indices = toKernelBuffer(b, loc, op.getKvIndices(),
                                 kernelType.getInput(first + 1));
  Value fullCounts = counts, fullIndices;
  if (op.getFullKvNumBlocks()) {
    fullCounts = toKernelBuffer(b, loc, op.getFullKvNumBlocks(),
                                kernelType.getInput(first + 2));
    fullIndices = toKernelBuffer(b, loc, op.getFullKvIndices(),
                                 kernelType.getInput(first + 3));
  } else {
    // No full list: a view of no entries (N = 0), which the kernel never
    // reads, nor the counts beside it.
    SmallVector<OpFoldResult> sizes;
    for (int64_t d = 0; d < 3; ++d)
      sizes.push_back(memref::getMixedSize(b, loc, indices, d));
    sizes.push_back(b.getIndexAttr(0));
    Value empty = memref::SubViewOp::create(
        b, loc, indices, SmallVector<OpFoldResult>(4, b.getIndexAttr(0)),
        sizes, SmallVector<OpFoldResult>(4, b.getIndexAttr(1)));
    fullIndices =
        memref::CastOp::create(b, loc, kernelType.getInput(first + 3), empty);
  }
  ArrayRef<int64_t> blockSizes = *op.getBlockSizes();
  args.append({counts, indices, fullCounts, fullIndices,
               arith::ConstantIntOp::create(b, loc, b.getI64Type(),
                                            blockSizes[0]),
               arith::ConstantIntOp::create(b, loc, b.getI64Type(),
                                            blockSizes[1])});
  // The kernel stages the row in shared memory past its K and V stages
  // (KernelABI.h): NKV = ceil(Lk / block_kv) layout blocks of block_kv /
  // cta_kv kernel key tiles.
  auto cst = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v).getResult();
  };
  Value numBlocks = ceilDiv(
      b, loc, b.createOrFold<memref::DimOp>(loc, args[kKey], 2), blockSizes[1]);
  Value staging = getLayoutStaging(b, loc, numBlocks,
                                   cst(blockSizes[1] / plan.ctaKV))
                      .getBytes(b, loc);
  Value bytes = arith::AddIOp::create(b, loc, staging,
                                      cst(plan.getSharedMemoryBytes()));
  return arith::IndexCastOp::create(b, loc, b.getI32Type(), bytes);
}

/// What the pass's own checks of its options start their messages with.
constexpr StringLiteral kOptionErrorPrefix = "convert-flash-to-gpu: ";

struct ConvertFlashToGPUPass
    : flash::impl::ConvertFlashToGPUBase<ConvertFlashToGPUPass> {
  using ConvertFlashToGPUBase::ConvertFlashToGPUBase;

  /// The options as set, e.g. parsed from a pipeline.
  ConvertFlashToGPUOptions getOptions() const {
    ConvertFlashToGPUOptions options;
    options.chip = chip;
    options.ctaQ = ctaQ;
    options.warps = warps;
    options.ctaKV = ctaKV;
    options.stages = stages;
    options.minCTAsPerSM = minCTAsPerSM;
    options.warpgroupMMA = warpgroupMMA;
    options.queryInRegisters = queryInRegisters;
    options.scoresBeforeCopies = scoresBeforeCopies;
    options.copyPointers = copyPointers;
    return options;
  }

  /// Parses the options, then checks each size given against its range
  /// (checkPlanSizeOverride): 0 too, which the options hold for a size not
  /// given (the plan table's), is refused when written.
  LogicalResult initializeOptions(
      StringRef options,
      function_ref<LogicalResult(const Twine &)> errorHandler) override {
    if (failed(ConvertFlashToGPUBase::initializeOptions(options, errorHandler)))
      return failure();
    for (const Option<int64_t> *option :
         {&ctaQ, &warps, &ctaKV, &stages, &minCTAsPerSM}) {
      if (!option->hasValue())
        continue;
      if (llvm::Error err =
              checkPlanSizeOverride(option->ArgStr, option->getValue()))
        return errorHandler(Twine(kOptionErrorPrefix) +
                            llvm::toString(std::move(err)));
    }
    return success();
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    // A bad option is one error, not a remark on every op.
    std::optional<Chip> target = parseChip(chip);
    if (!target) {
      module.emitError() << "convert-flash-to-gpu: " << describeChipError(chip);
      return signalPassFailure();
    }
    SmallVector<Operation *> ops;
    module.walk([&](Operation *op) {
      if (isa<AttentionOp, AttentionGradOp>(op))
        ops.push_back(op);
    });
    OpBuilder b(&getContext());
    ConvertFlashToGPUOptions options = getOptions();
    for (Operation *op : ops) {
      LogicalResult converted =
          TypeSwitch<Operation *, LogicalResult>(op)
              .Case([&](AttentionOp op) {
                return convert(op, *target, options, module, b);
              })
              .Case([&](AttentionGradOp op) {
                return lowerAttentionGrad(op, *target, module, b);
              });
      if (failed(converted))
        return signalPassFailure();
    }
  }

  LogicalResult convert(AttentionOp op, Chip target,
                        const ConvertFlashToGPUOptions &options,
                        ModuleOp module, OpBuilder &b) {
    std::string reason;
    FailureOr<PlannedKernel> planned =
        planAttentionKernel(op, target, options, reason);
    if (failed(planned)) {
      if (reason.empty())
        return failure();
      op.emitRemark() << "not lowered to a GPU kernel: " << reason;
      return success();
    }
    const KernelSpec &spec = planned->spec;
    const KernelPlan &plan = planned->plan;
    gpu::GPUModuleOp kernels = getOrCreateKernelModule(module, b);
    auto kernel = kernels.lookupSymbol<gpu::GPUFuncOp>(spec.getName());
    if (!kernel) {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToEnd(kernels.getBody());
      kernel = buildKernel(b, op.getLoc(), *planned);
    } else if (KernelPlanAttr existing =
                   getFlashDialect(kernel)->getKernelPlanAttrHelper().getAttr(
                       kernel);
               existing != getKernelPlanAttr(&getContext(), plan)) {
      // A kernel of an earlier run, e.g. with other overrides: the launch
      // below would not match it.
      return op.emitError()
             << "the kernel " << spec.getName()
             << " exists already with another plan, " << existing;
    }

    Location loc = op.getLoc();
    b.setInsertionPoint(op);
    FunctionType kernelType = kernel.getFunctionType();
    Value q =
        toKernelBuffer(b, loc, op.getQuery(), kernelType.getInput(kQuery));
    Value k = toKernelBuffer(b, loc, op.getKey(), kernelType.getInput(kKey));
    Value v =
        toKernelBuffer(b, loc, op.getValue(), kernelType.getInput(kValue));
    // Output buffers shaped like the results, dynamic extents read off q.
    auto outType = op.getOutput().getType();
    Value outBuffer =
        allocBuffer(b, loc, outType.getShape(), outType.getElementType(), q);
    Value lseBuffer =
        allocBuffer(b, loc, outType.getShape().drop_back(), b.getF32Type(), q);

    auto dimOf = [&](Value buffer, int64_t d) {
      return b.createOrFold<memref::DimOp>(loc, buffer, d);
    };
    gpu::KernelDim3 grid{ceilDiv(b, loc, dimOf(q, 2), plan.ctaQ), dimOf(q, 1),
                         dimOf(q, 0)};
    ScoreArgs score =
        createScoreArgs(b, loc, op.getScaleValue(), op.getWindow());
    SmallVector<Value> args = {
        q,
        k,
        v,
        memref::CastOp::create(b, loc, kernelType.getInput(kOutput), outBuffer),
        memref::CastOp::create(b, loc, kernelType.getInput(kLse), lseBuffer),
        score.scaleLog2,
        score.windowLeft,
        score.windowRight};
    Value smem = spec.features.blockSparse
                     ? appendLayoutArgs(b, op, plan, kernelType, args)
                     : arith::ConstantIntOp::create(
                           b, loc, b.getI32Type(), plan.getSharedMemoryBytes());
    launchKernel(b, loc, kernel, grid, plan.getThreads(), smem, args);

    SmallVector<Value> results = {
        toResultTensor(b, loc, op.getOutput().getType(), outBuffer)};
    if (Value lse = op.getLse())
      results.push_back(toResultTensor(b, loc, lse.getType(), lseBuffer));
    op->replaceAllUsesWith(results);
    op->erase();
    return success();
  }
};

} // namespace

FailureOr<PlannedKernel>
mlir::flash::planAttentionKernel(AttentionOp op, Chip chip,
                                 const ConvertFlashToGPUOptions &options,
                                 std::string &reason) {
  FailureOr<KernelSpec> spec = getKernelSpec(op, chip, reason);
  if (failed(spec))
    return failure();
  llvm::Expected<KernelPlan> plan = planKernel(*spec, options);
  if (!plan) {
    op.emitError() << llvm::toString(plan.takeError());
    return failure();
  }
  if (spec->features.blockSparse)
    if (llvm::Error err = verifyBlockSizes(*plan, (*op.getBlockSizes())[0],
                                           (*op.getBlockSizes())[1])) {
      reason = llvm::toString(std::move(err));
      return failure();
    }
  return PlannedKernel{*spec, *plan};
}

gpu::GPUFuncOp mlir::flash::buildKernel(OpBuilder &builder, Location loc,
                                        const PlannedKernel &kernel) {
  gpu::GPUFuncOp func =
      buildForwardKernel(builder, loc, kernel.spec, kernel.plan);
  getFlashDialect(func)->getKernelPlanAttrHelper().setAttr(
      func, getKernelPlanAttr(builder.getContext(), kernel.plan));
  return func;
}

llvm::Expected<ConvertFlashToGPUOptions>
mlir::flash::parseConvertFlashToGPUOptions(StringRef text) {
  // One option at a time (no value of this pass's options has a space), so
  // that the error names the bad one: the option parser writes what is
  // wrong with a value to stderr, not to the handler.
  ConvertFlashToGPUPass pass;
  SmallVector<StringRef> items;
  llvm::SplitString(text, items);
  for (StringRef item : items) {
    std::string error;
    if (failed(pass.initializeOptions(item, [&](const Twine &message) {
          // The error below names the pass already.
          std::string full = message.str();
          StringRef text = StringRef(full).trim();
          text.consume_front(kOptionErrorPrefix);
          error = text.str();
          return failure();
        })))
      return llvm::createStringError(
          "bad convert-flash-to-gpu option '" + item + "'" +
          (error.empty() ? "" : ": " + error));
  }
  return pass.getOptions();
}
