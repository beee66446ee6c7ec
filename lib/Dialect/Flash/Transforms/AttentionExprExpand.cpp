//===- AttentionExprExpand.cpp - Expressions from linalg, tensor, tosa ----===//
//
// Expansion of views: what the producer of a tensor computes at an index,
// built from the body of a linalg op (arith and math scalar ops, reductions,
// linalg.index), linalg.softmax, tensor and TOSA reshapes, and TOSA
// element-wise ops, matmuls, transposes and reductions. Scalars captured from
// outside a body become constants, small arith expressions or opaque leaves.
//
//===----------------------------------------------------------------------===//

#include "AttentionExpr.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tosa/IR/TosaOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Matchers.h"

#include <limits>

using namespace mlir;
using namespace mlir::flash::raise;

//===----------------------------------------------------------------------===//
// Scalar ops
//===----------------------------------------------------------------------===//

OpKind mlir::flash::raise::classifyScalarOp(Operation *op,
                                            int64_t &predicate) {
  predicate = 0;
  if (op->getNumResults() != 1)
    return OpKind::Other;
  if (isa<arith::AddFOp>(op))
    return OpKind::AddF;
  if (isa<arith::SubFOp>(op))
    return OpKind::SubF;
  if (isa<arith::MulFOp>(op))
    return OpKind::MulF;
  if (isa<arith::DivFOp>(op))
    return OpKind::DivF;
  if (isa<arith::MaximumFOp, arith::MaxNumFOp>(op))
    return OpKind::MaxF;
  if (isa<arith::MinimumFOp, arith::MinNumFOp>(op))
    return OpKind::MinF;
  if (isa<arith::NegFOp>(op))
    return OpKind::NegF;
  if (isa<math::ExpOp>(op))
    return OpKind::Exp;
  if (isa<math::SqrtOp>(op))
    return OpKind::Sqrt;
  if (isa<math::RsqrtOp>(op))
    return OpKind::Rsqrt;
  if (isa<math::TanhOp>(op))
    return OpKind::Tanh;
  if (isa<arith::ExtFOp>(op))
    return OpKind::ExtF;
  if (isa<arith::TruncFOp>(op))
    return OpKind::TruncF;
  if (isa<arith::SelectOp>(op))
    return OpKind::Select;
  if (auto cmp = dyn_cast<arith::CmpFOp>(op)) {
    predicate = static_cast<int64_t>(cmp.getPredicate());
    return OpKind::CmpF;
  }
  if (auto cmp = dyn_cast<arith::CmpIOp>(op)) {
    predicate = static_cast<int64_t>(cmp.getPredicate());
    return OpKind::CmpI;
  }
  if (isa<arith::AndIOp>(op))
    return OpKind::AndI;
  if (isa<arith::OrIOp>(op))
    return OpKind::OrI;
  if (isa<arith::XOrIOp>(op))
    return OpKind::XOrI;
  if (isa<arith::AddIOp>(op))
    return OpKind::AddI;
  if (isa<arith::SubIOp>(op))
    return OpKind::SubI;
  if (isa<arith::MulIOp>(op))
    return OpKind::MulI;
  if (isa<arith::IndexCastOp, arith::IndexCastUIOp, arith::ExtSIOp,
          arith::ExtUIOp>(op))
    return OpKind::IntCast;
  return OpKind::Other;
}

static std::optional<double> attrToDouble(Attribute a) {
  if (auto f = dyn_cast<FloatAttr>(a))
    return f.getValueAsDouble();
  if (auto i = dyn_cast<IntegerAttr>(a)) {
    if (i.getType().isInteger(1))
      return i.getValue().isZero() ? 0.0 : 1.0;
    return static_cast<double>(i.getValue().getSExtValue());
  }
  return std::nullopt;
}

static std::optional<double> splatValue(Value v) {
  Attribute attr;
  if (!matchPattern(v, m_Constant(&attr)))
    return std::nullopt;
  if (auto dense = dyn_cast<DenseElementsAttr>(attr)) {
    if (!dense.isSplat())
      return std::nullopt;
    return attrToDouble(dense.getSplatValue<Attribute>());
  }
  return attrToDouble(attr);
}

/// A scalar captured by a body from outside: a constant, a small arith
/// expression of constants (Lk - Lq, say), or an opaque leaf.
Node *ExprContext::translateOutside(Value v, int depth) {
  if (std::optional<double> c = splatValue(v))
    return constant(*c);
  Operation *def = v.getDefiningOp();
  int64_t pred;
  if (def && depth < 4 && def->getNumResults() == 1 &&
      !isa<ShapedType>(v.getType())) {
    OpKind kind = classifyScalarOp(def, pred);
    if (kind != OpKind::Other) {
      SmallVector<Node *> ops;
      for (Value o : def->getOperands())
        ops.push_back(translateOutside(o, depth + 1));
      return op(kind, ops, pred, def);
    }
  }
  return scalarLeaf(v);
}

//===----------------------------------------------------------------------===//
// Expansion
//===----------------------------------------------------------------------===//

Node *ExprContext::expand(Node *n) {
  if (n->kind != NodeKind::View)
    return nullptr;
  if (!n->expandTried) {
    n->expandTried = true;
    n->expanded = expandImpl(n);
  }
  return n->expanded;
}

static bool hasStaticShape(Type t) {
  auto rt = dyn_cast<RankedTensorType>(t);
  return rt && rt.hasStaticShape();
}

/// Applies an indexing map to loop-variable groups: a dim gives its group, a
/// constant 0 an empty group.
static std::optional<Index> applyMap(AffineMap map,
                                     ArrayRef<std::optional<Group>> loops) {
  Index out;
  for (AffineExpr e : map.getResults()) {
    if (auto d = dyn_cast<AffineDimExpr>(e)) {
      if (!loops[d.getPosition()])
        return std::nullopt;
      out.push_back(*loops[d.getPosition()]);
      continue;
    }
    auto c = dyn_cast<AffineConstantExpr>(e);
    if (!c || c.getValue() != 0)
      return std::nullopt;
    out.push_back(Group());
  }
  return out;
}

Node *ExprContext::expandImpl(Node *n) {
  Value t = n->tensor;
  Operation *def = t.getDefiningOp();
  if (!def || !hasStaticShape(t.getType()))
    return nullptr;
  Index idx = resolve(n->index);
  auto type = cast<RankedTensorType>(t.getType());
  if (static_cast<int64_t>(idx.size()) != type.getRank())
    return nullptr;

  if (std::optional<double> c = splatValue(t))
    return constant(*c);

  if (auto softmax = dyn_cast<linalg::SoftmaxOp>(def)) {
    int64_t dim = softmax.getDimension();
    Value in = softmax.getInput();
    if (dim < 0 || dim >= type.getRank() || idx[dim].size() != 1)
      return nullptr;
    int64_t ext = type.getDimSize(dim);
    Var j1 = newVar(ext), j2 = newVar(ext);
    Index a1 = idx, a2 = idx;
    a1[dim] = {j1};
    a2[dim] = {j2};
    Node *m = reduce(ReduceKind::Max, {j1},
                     constant(-std::numeric_limits<double>::infinity()),
                     view(in, a1), def);
    Node *e = op(OpKind::Exp, {op(OpKind::SubF, {view(in, idx), m}, 0, def)},
                 0, def);
    Node *z = reduce(
        ReduceKind::Add, {j2}, constant(0.0),
        op(OpKind::Exp, {op(OpKind::SubF, {view(in, a2), m}, 0, def)}, 0, def),
        def);
    return op(OpKind::DivF, {e, z}, 0, def);
  }

  if (isa<tensor::CollapseShapeOp, tensor::ExpandShapeOp, tosa::ReshapeOp>(
          def)) {
    Value src = def->getOperand(0);
    if (!hasStaticShape(src.getType()))
      return nullptr;
    Group flat = flatten(idx);
    Index srcIdx;
    if (!splitVars(flat, cast<RankedTensorType>(src.getType()).getShape(),
                   srcIdx))
      return nullptr;
    return view(src, srcIdx);
  }

  if (auto lop = dyn_cast<linalg::LinalgOp>(def))
    return expandLinalg(def, idx);

  if (def->getDialect() &&
      def->getDialect()->getNamespace() == tosa::TosaDialect::getDialectNamespace())
    return expandTosa(def, idx);
  return nullptr;
}

Node *ExprContext::expandLinalg(Operation *def, const Index &idx) {
  auto lop = cast<linalg::LinalgOp>(def);
  if (lop.getNumDpsInits() != 1 || def->getNumResults() != 1 ||
      !lop.hasPureTensorSemantics() || def->getNumRegions() != 1)
    return nullptr;
  Block *body = lop.getBlock();
  if (!body)
    return nullptr;
  unsigned numLoops = lop.getNumLoops();
  SmallVector<int64_t> ranges = lop.getStaticLoopRanges();
  SmallVector<utils::IteratorType> iters = lop.getIteratorTypesArray();
  OpOperand *init = lop.getDpsInitOperand(0);
  AffineMap outMap = lop.getMatchingIndexingMap(init);
  SmallVector<std::optional<Group>> loops(numLoops);
  for (auto [r, e] : llvm::enumerate(outMap.getResults())) {
    if (auto d = dyn_cast<AffineDimExpr>(e)) {
      auto &slot = loops[d.getPosition()];
      if (slot && *slot != idx[r])
        return nullptr;
      slot = idx[r];
      continue;
    }
    auto c = dyn_cast<AffineConstantExpr>(e);
    if (!c || c.getValue() != 0)
      return nullptr;
  }
  Group redVars;
  for (unsigned d = 0; d < numLoops; ++d) {
    if (loops[d])
      continue;
    if (iters[d] != utils::IteratorType::reduction ||
        ShapedType::isDynamic(ranges[d]))
      return nullptr;
    Var v = newVar(ranges[d]);
    loops[d] = Group{v};
    redVars.push_back(v);
  }

  DenseMap<Value, Node *> env;
  for (OpOperand *in : lop.getDpsInputOperands()) {
    BlockArgument arg = lop.getMatchingBlockArgument(in);
    Value val = in->get();
    if (isa<RankedTensorType>(val.getType())) {
      std::optional<Index> at =
          applyMap(lop.getMatchingIndexingMap(in), loops);
      if (!at)
        return nullptr;
      env[arg] = view(val, *at);
    } else {
      env[arg] = translateOutside(val, 0);
    }
  }
  BlockArgument outArg = lop.getMatchingBlockArgument(init);
  Node *acc = scalarLeaf(outArg);
  env[outArg] = redVars.empty() ? view(init->get(), idx) : acc;

  auto lookup = [&](Value v) -> Node * {
    auto it = env.find(v);
    if (it != env.end())
      return it->second;
    return translateOutside(v, 0);
  };
  for (Operation &o : body->without_terminator()) {
    if (o.getNumResults() != 1)
      return nullptr;
    if (auto index = dyn_cast<linalg::IndexOp>(o)) {
      env[o.getResult(0)] = indexOf(*loops[index.getDim()]);
      continue;
    }
    if (std::optional<double> c = splatValue(o.getResult(0))) {
      env[o.getResult(0)] = constant(*c);
      continue;
    }
    int64_t pred;
    OpKind kind = classifyScalarOp(&o, pred);
    SmallVector<Node *> ops;
    for (Value operand : o.getOperands())
      ops.push_back(lookup(operand));
    env[o.getResult(0)] = op(kind, ops, pred, def);
  }
  Operation *yield = body->getTerminator();
  if (yield->getNumOperands() != 1)
    return nullptr;
  Node *res = lookup(yield->getOperand(0));
  if (redVars.empty())
    return res;

  // A reduction: the yielded value must combine the accumulator once.
  if (!outArg.hasOneUse() || res->kind != NodeKind::Op ||
      res->operands.size() != 2 ||
      (res->opKind != OpKind::AddF && res->opKind != OpKind::MaxF))
    return nullptr;
  Node *x;
  if (res->operands[0] == acc && res->operands[1] != acc)
    x = res->operands[1];
  else if (res->operands[1] == acc && res->operands[0] != acc)
    x = res->operands[0];
  else
    return nullptr;
  ReduceKind kind =
      res->opKind == OpKind::AddF ? ReduceKind::Add : ReduceKind::Max;
  return reduce(kind, redVars, view(init->get(), idx), x, def);
}

/// The index at which an operand of a broadcasting TOSA elementwise op is
/// read: axes of extent 1 broadcast.
static std::optional<Index> broadcastIndex(Value operand, const Index &idx,
                                           ArrayRef<int64_t> outShape) {
  auto type = dyn_cast<RankedTensorType>(operand.getType());
  if (!type || !type.hasStaticShape() ||
      type.getRank() != static_cast<int64_t>(outShape.size()))
    return std::nullopt;
  Index out;
  for (auto [a, size] : llvm::enumerate(type.getShape())) {
    if (size == outShape[a])
      out.push_back(idx[a]);
    else if (size == 1)
      out.push_back(Group());
    else
      return std::nullopt;
  }
  return out;
}

Node *ExprContext::expandTosa(Operation *def, const Index &idx) {
  if (def->getNumResults() != 1)
    return nullptr;
  ArrayRef<int64_t> outShape =
      cast<RankedTensorType>(def->getResult(0).getType()).getShape();
  auto operandView = [&](Value v) -> Node * {
    if (std::optional<Index> at = broadcastIndex(v, idx, outShape))
      return view(v, *at);
    return nullptr;
  };
  auto binary = [&](OpKind kind) -> Node * {
    Node *a = operandView(def->getOperand(0));
    Node *b = operandView(def->getOperand(1));
    if (!a || !b)
      return nullptr;
    return op(kind, {a, b}, 0, def);
  };
  auto unary = [&](OpKind kind) -> Node * {
    Node *a = operandView(def->getOperand(0));
    if (!a)
      return nullptr;
    return op(kind, {a}, 0, def);
  };

  if (auto mm = dyn_cast<tosa::MatMulOp>(def)) {
    std::optional<double> az = splatValue(mm.getAZp());
    std::optional<double> bz = splatValue(mm.getBZp());
    auto aType = cast<RankedTensorType>(mm.getA().getType());
    if (!az || !bz || *az != 0 || *bz != 0 || !aType.hasStaticShape() ||
        !hasStaticShape(mm.getB().getType()))
      return nullptr;
    Var k = newVar(aType.getDimSize(2));
    Node *a = view(mm.getA(), {idx[0], idx[1], {k}});
    Node *b = view(mm.getB(), {idx[0], {k}, idx[2]});
    return reduce(ReduceKind::Add, {k}, constant(0.0),
                  op(OpKind::MulF, {a, b}, 0, def), def);
  }
  if (auto tr = dyn_cast<tosa::TransposeOp>(def)) {
    ArrayRef<int32_t> perms = tr.getPerms();
    Index in(idx.size());
    for (auto [a, p] : llvm::enumerate(perms)) {
      if (p < 0 || p >= static_cast<int32_t>(idx.size()))
        return nullptr;
      in[p] = idx[a];
    }
    return view(tr.getInput1(), in);
  }
  if (auto mul = dyn_cast<tosa::MulOp>(def)) {
    std::optional<double> shift = splatValue(mul.getShift());
    if (!shift || *shift != 0)
      return nullptr;
    return binary(OpKind::MulF);
  }
  if (isa<tosa::AddOp>(def))
    return binary(OpKind::AddF);
  if (isa<tosa::SubOp>(def))
    return binary(OpKind::SubF);
  if (isa<tosa::MaximumOp>(def))
    return binary(OpKind::MaxF);
  if (isa<tosa::MinimumOp>(def))
    return binary(OpKind::MinF);
  if (isa<tosa::ExpOp>(def))
    return unary(OpKind::Exp);
  if (isa<tosa::RsqrtOp>(def))
    return unary(OpKind::Rsqrt);
  if (isa<tosa::TanhOp>(def))
    return unary(OpKind::Tanh);
  if (isa<tosa::ReciprocalOp>(def)) {
    Node *a = operandView(def->getOperand(0));
    if (!a)
      return nullptr;
    return op(OpKind::DivF, {constant(1.0), a}, 0, def);
  }
  if (isa<tosa::NegateOp>(def)) {
    if (!isa<FloatType>(getElementTypeOrSelf(def->getResult(0).getType())))
      return nullptr;
    return unary(OpKind::NegF);
  }
  if (auto cast = dyn_cast<tosa::CastOp>(def)) {
    Type from = getElementTypeOrSelf(cast.getInput().getType());
    Type to = getElementTypeOrSelf(cast.getType());
    if (!isa<FloatType>(from) || !isa<FloatType>(to))
      return nullptr;
    return unary(from.getIntOrFloatBitWidth() < to.getIntOrFloatBitWidth()
                     ? OpKind::ExtF
                     : OpKind::TruncF);
  }
  if (auto sel = dyn_cast<tosa::SelectOp>(def)) {
    Node *c = operandView(def->getOperand(0));
    Node *a = operandView(def->getOperand(1));
    Node *b = operandView(def->getOperand(2));
    if (!c || !a || !b)
      return nullptr;
    return op(OpKind::Select, {c, a, b}, 0, def);
  }
  if (isa<tosa::ReduceMaxOp, tosa::ReduceSumOp>(def)) {
    Value in = def->getOperand(0);
    auto inType = dyn_cast<RankedTensorType>(in.getType());
    int64_t axis = def->getAttrOfType<IntegerAttr>("axis").getInt();
    if (!inType || !inType.hasStaticShape() || axis < 0 ||
        axis >= inType.getRank())
      return nullptr;
    Var r = newVar(inType.getDimSize(axis));
    Index at = idx;
    at[axis] = {r};
    bool isMax = isa<tosa::ReduceMaxOp>(def);
    return reduce(isMax ? ReduceKind::Max : ReduceKind::Add, {r},
                  constant(isMax ? -std::numeric_limits<double>::infinity()
                                 : 0.0),
                  view(in, at), def);
  }
  return nullptr;
}
