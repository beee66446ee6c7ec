//===- FlashOps.cpp - flash dialect operations ----------------------------===//

#include "flash/Dialect/Flash/IR/FlashOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpImplementation.h"

#include <cmath>

using namespace mlir;
using namespace mlir::flash;

#define GET_OP_CLASSES
#include "flash/Dialect/Flash/IR/FlashOps.cpp.inc"

//===----------------------------------------------------------------------===//
// Shape checking helpers
//===----------------------------------------------------------------------===//

namespace {

/// Checks one operand dimension against an expected extent, skipping the
/// check when either side is dynamic. `what` says where the expectation comes
/// from, e.g. "the query's batch".
LogicalResult expectDim(Operation *op, StringRef operand, ShapedType type,
                        unsigned dim, int64_t expected, StringRef what) {
  int64_t actual = type.getDimSize(dim);
  if (ShapedType::isDynamic(actual) || ShapedType::isDynamic(expected) ||
      actual == expected)
    return success();
  return op->emitOpError() << operand << " dimension " << dim << " is "
                           << actual << ", expected " << expected << " ("
                           << what << ")";
}

LogicalResult expectRank(Operation *op, StringRef operand, ShapedType type,
                         int64_t rank, StringRef layout) {
  if (type.getRank() == rank)
    return success();
  return op->emitOpError() << operand << " must be rank " << rank << " "
                           << layout << ", got " << type;
}

/// The extents an attention op works with, read off query, key and value.
struct AttentionDims {
  int64_t batch, queryHeads, kvHeads, queryLen, keyLen, headDim, valueDim;
};

int64_t ceilDivOrDynamic(int64_t a, int64_t b) {
  if (ShapedType::isDynamic(a))
    return ShapedType::kDynamic;
  return (a + b - 1) / b;
}

/// Verifies query, key and value and returns their extents.
FailureOr<AttentionDims> verifyQKV(Operation *op, ShapedType q, ShapedType k,
                                   ShapedType v) {
  const char *bhld = "[batch, heads, length, head_dim]";
  if (failed(expectRank(op, "query", q, 4, bhld)) ||
      failed(expectRank(op, "key", k, 4, bhld)) ||
      failed(expectRank(op, "value", v, 4, bhld)))
    return failure();
  Type elt = q.getElementType();
  if (k.getElementType() != elt || v.getElementType() != elt)
    return op->emitOpError()
           << "key and value element types must match the query's (" << elt
           << "), got " << k.getElementType() << " and "
           << v.getElementType();

  for (unsigned d : {0u}) {
    if (failed(expectDim(op, "key", k, d, q.getDimSize(d),
                         "the query's batch")) ||
        failed(expectDim(op, "value", v, d, q.getDimSize(d),
                         "the query's batch")))
      return failure();
  }
  if (failed(expectDim(op, "value", v, 1, k.getDimSize(1),
                       "the key's heads")) ||
      failed(expectDim(op, "value", v, 2, k.getDimSize(2),
                       "the key's length")) ||
      failed(expectDim(op, "key", k, 3, q.getDimSize(3),
                       "the query's head_dim")))
    return failure();

  AttentionDims dims{q.getDimSize(0), q.getDimSize(1), k.getDimSize(1),
                     q.getDimSize(2), k.getDimSize(2), q.getDimSize(3),
                     v.getDimSize(3)};
  if (dims.kvHeads == 0)
    return op->emitOpError() << "key must have at least one head";
  if (!ShapedType::isDynamic(dims.queryHeads) &&
      !ShapedType::isDynamic(dims.kvHeads) &&
      dims.queryHeads % dims.kvHeads != 0)
    return op->emitOpError()
           << "query heads (" << dims.queryHeads
           << ") must be a multiple of key/value heads (" << dims.kvHeads
           << ") for grouped-query attention";
  return dims;
}

/// Verifies that `type` has exactly the shape `expected` (dynamic entries on
/// either side match anything) and the element type `elt`.
LogicalResult expectShape(Operation *op, StringRef operand, ShapedType type,
                          ArrayRef<int64_t> expected, ArrayRef<StringRef> names,
                          Type elt) {
  if (type.getRank() != static_cast<int64_t>(expected.size())) {
    std::string layout = "[";
    llvm::raw_string_ostream os(layout);
    llvm::interleaveComma(names, os);
    os << "]";
    return expectRank(op, operand, type, expected.size(), layout);
  }
  for (auto [d, extent] : llvm::enumerate(expected))
    if (failed(expectDim(op, operand, type, d, extent,
                         (Twine("its ") + names[d]).str())))
      return failure();
  if (type.getElementType() != elt)
    return op->emitOpError() << operand << " element type must be " << elt
                             << ", got " << type.getElementType();
  return success();
}

/// Verifies what the forward and backward ops share: the scale, softcap,
/// structural mask, element mask and block-sparse layout.
template <typename OpT>
LogicalResult verifyMasking(OpT op, const AttentionDims &dims) {
  Operation *raw = op.getOperation();
  if (std::optional<APFloat> scale = op.getScale()) {
    if (!scale->isFiniteNonZero())
      return op.emitOpError() << "scale must be finite and non-zero";
  } else if (ShapedType::isDynamic(dims.headDim)) {
    return op.emitOpError()
           << "requires an explicit scale when head_dim is dynamic";
  } else if (dims.headDim == 0) {
    return op.emitOpError() << "requires an explicit scale when head_dim is "
                               "0 (the default 1/sqrt(head_dim) is infinite)";
  }
  if (std::optional<APFloat> cap = op.getSoftcap())
    if (!cap->isFiniteNonZero() || cap->isNegative())
      return op.emitOpError() << "softcap must be finite and positive";

  bool isWindow = op.getMaskKind() == MaskKind::SlidingWindow;
  std::optional<ArrayRef<int64_t>> window = op.getWindow();
  if (isWindow && !window)
    return op.emitOpError()
           << "mask_kind sliding_window requires window = array<i64: left, "
              "right>";
  if (!isWindow && window)
    return op.emitOpError()
           << "window is only allowed with mask_kind sliding_window";
  if (window && (window->size() != 2 || (*window)[0] < 0 || (*window)[1] < 0))
    return op.emitOpError()
           << "window must hold two non-negative extents [left, right]";

  if (Value mask = op.getMask()) {
    auto type = cast<ShapedType>(mask.getType());
    if (type.getRank() != 4)
      return op.emitOpError()
             << "mask must be rank 4, broadcastable to [batch, query heads, "
                "query length, key length], got "
             << type;
    int64_t expected[] = {dims.batch, dims.queryHeads, dims.queryLen,
                          dims.keyLen};
    const char *names[] = {"batch", "query heads", "query length",
                           "key length"};
    for (unsigned d = 0; d < 4; ++d) {
      int64_t actual = type.getDimSize(d);
      if (actual == 1 || ShapedType::isDynamic(actual) ||
          ShapedType::isDynamic(expected[d]) || actual == expected[d])
        continue;
      return op.emitOpError()
             << "mask dimension " << d << " is " << actual << ", expected 1 or "
             << expected[d] << " (the " << names[d] << ")";
    }
  }

  Value numBlocks = op.getKvNumBlocks(), indices = op.getKvIndices();
  Value fullNum = op.getFullKvNumBlocks(), fullIdx = op.getFullKvIndices();
  std::optional<ArrayRef<int64_t>> blockSizes = op.getBlockSizes();
  if (bool(numBlocks) != bool(indices) || bool(fullNum) != bool(fullIdx))
    return op.emitOpError()
           << "block-sparse counts and indices must be given together";
  if (fullNum && !numBlocks)
    return op.emitOpError()
           << "full_kv_num_blocks requires kv_num_blocks and kv_indices";
  if (bool(numBlocks) != bool(blockSizes))
    return op.emitOpError() << "block_sizes = array<i64: block_q, block_kv> "
                               "must be given exactly when a block-sparse "
                               "layout is";
  if (!numBlocks)
    return success();
  if (blockSizes->size() != 2 || (*blockSizes)[0] <= 0 ||
      (*blockSizes)[1] <= 0)
    return op.emitOpError()
           << "block_sizes must hold two positive tile sizes [block_q, "
              "block_kv]";
  int64_t numQueryTiles = ceilDivOrDynamic(dims.queryLen, (*blockSizes)[0]);
  auto checkLayout = [&](StringRef countName, Value count, StringRef idxName,
                         Value idx) -> LogicalResult {
    auto countType = cast<ShapedType>(count.getType());
    auto idxType = cast<ShapedType>(idx.getType());
    if (failed(expectRank(raw, countName, countType, 3,
                          "[batch or 1, query heads or 1, query tiles]")) ||
        failed(expectRank(raw, idxName, idxType, 4,
                          "[batch or 1, query heads or 1, query tiles, "
                          "max key tiles]")))
      return failure();
    int64_t outer[] = {dims.batch, dims.queryHeads};
    for (unsigned d = 0; d < 2; ++d) {
      int64_t actual = countType.getDimSize(d);
      if (actual != 1 && failed(expectDim(raw, countName, countType, d,
                                          outer[d], d == 0 ? "the batch"
                                                           : "the query heads, or 1")))
        return failure();
    }
    if (failed(expectDim(raw, countName, countType, 2, numQueryTiles,
                         "ceil(query length / block_q)")))
      return failure();
    for (unsigned d = 0; d < 3; ++d)
      if (failed(expectDim(raw, idxName, idxType, d, countType.getDimSize(d),
                           (Twine("dimension ") + Twine(d) + " of " +
                            countName)
                               .str())))
        return failure();
    if (idxType.getDimSize(3) == 0)
      return op.emitOpError() << idxName << " must have a non-empty last dimension";
    return success();
  };
  if (failed(checkLayout("kv_num_blocks", numBlocks, "kv_indices", indices)))
    return failure();
  if (!fullNum)
    return success();
  if (failed(checkLayout("full_kv_num_blocks", fullNum, "full_kv_indices",
                         fullIdx)))
    return failure();
  if (fullNum.getType() != numBlocks.getType())
    return op.emitOpError() << "full_kv_num_blocks must have the type of "
                               "kv_num_blocks ("
                            << numBlocks.getType() << "), got "
                            << fullNum.getType();
  return success();
}

double scaleOrDefault(std::optional<APFloat> scale, Value query) {
  if (scale)
    return scale->convertToDouble();
  int64_t headDim = cast<ShapedType>(query.getType()).getDimSize(3);
  return 1.0 / std::sqrt(static_cast<double>(headDim));
}
} // namespace

//===----------------------------------------------------------------------===//
// AttentionOp
//===----------------------------------------------------------------------===//

double AttentionOp::getScaleValue() {
  return scaleOrDefault(getScale(), getQuery());
}

LogicalResult AttentionOp::verify() {
  auto q = cast<ShapedType>(getQuery().getType());
  FailureOr<AttentionDims> dims =
      verifyQKV(*this, q, cast<ShapedType>(getKey().getType()),
                cast<ShapedType>(getValue().getType()));
  if (failed(dims) || failed(verifyMasking(*this, *dims)))
    return failure();
  if (std::optional<APFloat> fill = getMaskedScore())
    if (!fill->isFinite())
      return emitOpError() << "masked_score must be finite (omit it for -inf)";
  StringRef outNames[] = {"batch", "query heads", "query length", "value dim"};
  if (failed(expectShape(*this, "output",
                         cast<ShapedType>(getOutput().getType()),
                         {dims->batch, dims->queryHeads, dims->queryLen,
                          dims->valueDim},
                         outNames, q.getElementType())))
    return failure();
  if (Value lse = getLse())
    return expectShape(*this, "lse", cast<ShapedType>(lse.getType()),
                       {dims->batch, dims->queryHeads, dims->queryLen},
                       ArrayRef<StringRef>(outNames).take_front(3),
                       Float32Type::get(getContext()));
  return success();
}

//===----------------------------------------------------------------------===//
// AttentionGradOp
//===----------------------------------------------------------------------===//

double AttentionGradOp::getScaleValue() {
  return scaleOrDefault(getScale(), getQuery());
}

LogicalResult AttentionGradOp::verify() {
  auto q = cast<ShapedType>(getQuery().getType());
  FailureOr<AttentionDims> dims =
      verifyQKV(*this, q, cast<ShapedType>(getKey().getType()),
                cast<ShapedType>(getValue().getType()));
  if (failed(dims) || failed(verifyMasking(*this, *dims)))
    return failure();
  StringRef names[] = {"batch", "query heads", "query length", "value dim"};
  SmallVector<int64_t> outShape = {dims->batch, dims->queryHeads,
                                   dims->queryLen, dims->valueDim};
  Type elt = q.getElementType();
  if (failed(expectShape(*this, "output",
                         cast<ShapedType>(getOutput().getType()), outShape,
                         names, elt)) ||
      failed(expectShape(*this, "grad_output",
                         cast<ShapedType>(getGradOutput().getType()), outShape,
                         names, elt)) ||
      failed(expectShape(*this, "lse", cast<ShapedType>(getLse().getType()),
                         ArrayRef<int64_t>(outShape).take_front(3),
                         ArrayRef<StringRef>(names).take_front(3),
                         Float32Type::get(getContext()))))
    return failure();
  auto expectSameType = [&](StringRef result, Value value, StringRef operand,
                            Value like) -> LogicalResult {
    if (value.getType() == like.getType())
      return success();
    return emitOpError() << result << " must have the type of " << operand
                         << " (" << like.getType() << "), got "
                         << value.getType();
  };
  if (failed(expectSameType("grad_query", getGradQuery(), "query",
                            getQuery())) ||
      failed(expectSameType("grad_key", getGradKey(), "key", getKey())) ||
      failed(expectSameType("grad_value", getGradValue(), "value", getValue())))
    return failure();
  return success();
}

//===----------------------------------------------------------------------===//
// BlockSparseLayoutOp
//===----------------------------------------------------------------------===//

void BlockSparseLayoutOp::build(OpBuilder &builder, OperationState &state,
                                Value tileMask) {
  auto maskType = cast<RankedTensorType>(tileMask.getType());
  Type i32 = builder.getI32Type();
  auto indicesType = RankedTensorType::get(maskType.getShape(), i32);
  auto countType =
      RankedTensorType::get(maskType.getShape().drop_back(), i32);
  build(builder, state, countType, indicesType, tileMask);
}

LogicalResult BlockSparseLayoutOp::verify() {
  auto maskType = cast<ShapedType>(getTileMask().getType());
  if (failed(expectRank(*this, "tile_mask", maskType, 4,
                        "[batch, heads, query tiles, key tiles]")))
    return failure();
  StringRef names[] = {"batch", "heads", "query tiles", "key tiles"};
  Type i32 = IntegerType::get(getContext(), 32);
  if (failed(expectShape(*this, "indices",
                         cast<ShapedType>(getIndices().getType()),
                         maskType.getShape(), names, i32)))
    return failure();
  return expectShape(*this, "num_blocks",
                     cast<ShapedType>(getNumBlocks().getType()),
                     maskType.getShape().drop_back(),
                     ArrayRef<StringRef>(names).drop_back(), i32);
}
