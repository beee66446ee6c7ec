//===- RaiseAttention.cpp - naive attention graphs to flash.attention -----===//
//
// Finds softmax(Q Kᵀ · scale + mask) V in linalg, tensor and TOSA IR, however
// it is spelled, and replaces it with flash.attention.
//
// The matcher starts at a candidate root (the op producing the attention
// output), reads the root at fresh index variables and walks backwards
// through the index-space expressions of AttentionExpr.h, recognising each
// step by its mathematics:
//
//   out  = Σ_j P(j) · V(j)          or  (Σ_j E(j) · V(j)) / Z
//   P    = E / Z,  E / Z spelled as a division, a reciprocal multiplication or
//          linalg.softmax
//   E(j) = exp(S(j) − max_j' S(j'))  (or exp(S(j)))
//   Z    = Σ_j'' E(j'')
//   S(j) = scale · Σ_d Q(d) K(j, d)  with additive masks and selects to -inf
//
// The query, key and value are the tensors the dot products read, seen
// through reshapes, transposes, broadcasts, casts and constant scalings. The
// index variables then say which axes are batch, heads, lengths and head
// dims; the rewrite re-lays the operands out as [B, H, L, D], emits
// flash.attention and lays the result out as the root was.
//
// The matcher is declared in RaiseMatcher.h; its recognisers are in
// RaiseRecognisers.cpp and its masks in RaiseMasks.cpp. This file holds the
// top level of a match, the rewrite and the pass.
//
//===----------------------------------------------------------------------===//

#include "RaiseMatcher.h"

#include "flash/Dialect/Flash/Transforms/AttentionMath.h"
#include "flash/Dialect/Flash/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/MapVector.h"

#include <cmath>

namespace mlir::flash {
#define GEN_PASS_DEF_FLASHRAISEATTENTION
#include "flash/Dialect/Flash/Transforms/Passes.h.inc"
} // namespace mlir::flash

using namespace mlir;
using namespace mlir::flash;
using namespace mlir::flash::raise;

//===----------------------------------------------------------------------===//
// Top level
//===----------------------------------------------------------------------===//

LogicalResult Matcher::match() {
  Value result = root->getResult(0);
  auto type = dyn_cast<RankedTensorType>(result.getType());
  if (!type || !type.hasStaticShape() ||
      !isa<FloatType>(type.getElementType()))
    return failure();
  for (int64_t s : type.getShape())
    m.rootIndex.push_back({ctx.newVar(s)});
  Node *out = stripCasts(ctx.view(result, m.rootIndex));

  Node *num = nullptr, *den = nullptr;
  bool post = normalized(out, num, den);
  Node *c = post ? stripCasts(num) : out;
  if (!c || c->kind != NodeKind::Reduce || c->reduceKind != ReduceKind::Add)
    return failure();
  std::optional<Var> j = single(c->vars);
  if (!j || !isZero(c->init))
    return failure();
  m.j = *j;
  anchor = c->origin;
  Node *body = stripCasts(c->body);
  if (!isOp(body, OpKind::MulF))
    return failure();

  std::string firstReason;
  bool found = false;
  for (int k = 0; k < 2 && !found; ++k) {
    Node *p = body->operands[k], *v = body->operands[1 - k];
    if (!contains(p, m.j) || !contains(v, m.j))
      continue;
    auto savedTerms = terms;
    auto savedPeripheral = peripheral;
    bool wasNear = nearMatch;
    nearMatch = false;
    if (matchProbabilities(p, v, post ? den : nullptr)) {
      found = true;
      break;
    }
    if (nearMatch && firstReason.empty())
      firstReason = reason;
    nearMatch |= wasNear;
    terms = savedTerms;
    peripheral = savedPeripheral;
  }
  if (!found) {
    if (!firstReason.empty())
      reason = firstReason;
    return failure();
  }
  nearMatch = true;
  if (!resolveLayout() || !resolveMasks() || !checkUses())
    return failure();

  Type elt = cast<ShapedType>(m.query->tensor.getType()).getElementType();
  if (cast<ShapedType>(m.key->tensor.getType()).getElementType() != elt ||
      cast<ShapedType>(m.value->tensor.getType()).getElementType() != elt) {
    fail("the query, key and value have different element types");
    return failure();
  }
  if (!elt.isF16() && !elt.isBF16() && !elt.isF32()) {
    fail("the element type is not f16, bf16 or f32");
    return failure();
  }
  return success();
}

/// The ops between the root and the leaves; none of them may be used
/// outside the attention.
bool Matcher::checkUses() {
  DenseSet<Value> leaves = {m.query->tensor, m.key->tensor, m.value->tensor};
  if (m.mask)
    leaves.insert(m.mask->tensor);
  SmallVector<Operation *> worklist = {root};
  while (!worklist.empty()) {
    Operation *op = worklist.pop_back_val();
    if (!core.insert(op))
      continue;
    SmallVector<Value> inputs;
    if (auto lop = dyn_cast<linalg::LinalgOp>(op)) {
      for (OpOperand *in : lop.getDpsInputOperands())
        inputs.push_back(in->get());
      for (Value init : lop.getDpsInits())
        if (Operation *def = init.getDefiningOp())
          extra.push_back(def);
    } else if (auto softmax = dyn_cast<linalg::SoftmaxOp>(op)) {
      inputs.push_back(softmax.getInput());
      if (Operation *def = softmax.getOutput().getDefiningOp())
        extra.push_back(def);
    } else {
      inputs.append(op->operand_begin(), op->operand_end());
    }
    for (Value in : inputs) {
      Operation *def = in.getDefiningOp();
      if (!def || leaves.contains(in))
        continue;
      if (peripheral.contains(def) || def->hasTrait<OpTrait::ConstantLike>() ||
          !isa<RankedTensorType>(in.getType())) {
        extra.push_back(def);
        continue;
      }
      worklist.push_back(def);
    }
  }
  for (Operation *op : core) {
    if (!isMemoryEffectFree(op))
      return fail("the attention contains an op with side effects");
    if (op == root)
      continue;
    for (Operation *user : op->getUsers())
      if (!core.contains(user))
        return fail(Twine("the scores or probabilities computed by '") +
                    op->getName().getStringRef() +
                    "' are used outside the attention");
  }
  return true;
}

//===----------------------------------------------------------------------===//
// Rewrite
//===----------------------------------------------------------------------===//

/// Builds a tensor whose axes are indexed by the variable groups `dst` from
/// `src`, whose axes are indexed by `srcIdx`: an expand_shape to one axis
/// per variable, a transposing/broadcasting/casting generic, and a
/// collapse_shape/expand_shape to the groups. Steps that change nothing are
/// left out.
Value Matcher::relayout(OpBuilder &b, Location loc, Value src,
                        const Index &srcIdxIn, const Index &dstIn, Type dstElt,
                        bool negate) {
  // Variables of extent 1 are always 0: leave them out.
  auto dropUnits = [&](const Index &idx) {
    Index out;
    for (const Group &g : ctx.resolve(idx)) {
      Group kept;
      for (Var v : g)
        if (ctx.extent(v) != 1)
          kept.push_back(v);
      out.push_back(kept);
    }
    return out;
  };
  Index srcIdx = dropUnits(srcIdxIn), dst = dropUnits(dstIn);
  auto srcType = cast<RankedTensorType>(src.getType());
  Type srcElt = srcType.getElementType();
  bool plain = srcElt == dstElt && !negate;
  if (plain && srcIdx == dst)
    return src;

  SmallVector<int64_t> atomShape;
  SmallVector<std::optional<Var>> atoms;
  SmallVector<ReassociationIndices> reassoc;
  bool needExpand = false;
  for (auto [a, g] : llvm::enumerate(srcIdx)) {
    ReassociationIndices r;
    if (g.empty()) {
      r.push_back(atoms.size());
      atoms.push_back(std::nullopt);
      atomShape.push_back(srcType.getDimSize(a));
    }
    for (Var v : g) {
      r.push_back(atoms.size());
      atoms.push_back(v);
      atomShape.push_back(ctx.extent(v));
    }
    needExpand |= g.size() > 1;
    reassoc.push_back(r);
  }
  Value t = src;
  if (needExpand)
    t = tensor::ExpandShapeOp::create(
        b, loc, RankedTensorType::get(atomShape, srcElt), src, reassoc);

  Group flat;
  for (const Group &g : dst)
    flat.append(g);
  SmallVector<int64_t> flatShape;
  for (Var v : flat)
    flatShape.push_back(ctx.extent(v));
  Group srcVars;
  bool hasUnits = false;
  for (std::optional<Var> a : atoms) {
    if (a)
      srcVars.push_back(*a);
    else
      hasUnits = true;
  }
  if (plain && srcVars == flat) {
    if (hasUnits) {
      SmallVector<ReassociationIndices> groups;
      ReassociationIndices pending;
      for (auto [k, a] : llvm::enumerate(atoms)) {
        pending.push_back(k);
        if (a) {
          groups.push_back(pending);
          pending.clear();
        }
      }
      groups.back().append(pending.begin(), pending.end());
      t = tensor::CollapseShapeOp::create(b, loc, t, groups);
    }
  } else {
    MLIRContext *mctx = b.getContext();
    unsigned n = flat.size();
    SmallVector<AffineExpr> inExprs;
    for (std::optional<Var> a : atoms) {
      if (!a) {
        inExprs.push_back(getAffineConstantExpr(0, mctx));
        continue;
      }
      auto it = llvm::find(flat, *a);
      assert(it != flat.end() && "relayout drops a variable");
      inExprs.push_back(getAffineDimExpr(it - flat.begin(), mctx));
    }
    SmallVector<AffineMap> maps = {AffineMap::get(n, 0, inExprs, mctx),
                                   AffineMap::getMultiDimIdentityMap(n, mctx)};
    Value init = tensor::EmptyOp::create(b, loc, flatShape, dstElt);
    t = linalg::GenericOp::create(
            b, loc, TypeRange{init.getType()}, ValueRange{t},
            ValueRange{init}, maps,
            SmallVector<utils::IteratorType>(n, utils::IteratorType::parallel),
            [&](OpBuilder &nb, Location nl, ValueRange args) {
              Value x = args[0];
              if (negate)
                x = arith::XOrIOp::create(
                    nb, nl, x, arith::ConstantIntOp::create(nb, nl, 1, 1));
              else
                x = castFloat(nb, nl, x, dstElt);
              linalg::YieldOp::create(nb, nl, x);
            })
            .getResult(0);
  }

  bool allSingle = llvm::all_of(dst, [](const Group &g) {
    return g.size() == 1;
  });
  if (allSingle)
    return t;
  SmallVector<ReassociationIndices> collapse;
  SmallVector<int64_t> dstShape;
  bool needCollapse = false, hasEmpty = false;
  int64_t pos = 0;
  for (const Group &g : dst) {
    int64_t size = 1;
    for (Var v : g)
      size *= ctx.extent(v);
    dstShape.push_back(size);
    if (g.empty()) {
      hasEmpty = true;
      continue;
    }
    ReassociationIndices r;
    for (size_t k = 0; k < g.size(); ++k)
      r.push_back(pos++);
    needCollapse |= g.size() > 1;
    collapse.push_back(r);
  }
  if (needCollapse)
    t = tensor::CollapseShapeOp::create(b, loc, t, collapse);
  if (hasEmpty) {
    SmallVector<ReassociationIndices> expand;
    ReassociationIndices leading;
    for (auto [k, g] : llvm::enumerate(dst)) {
      if (g.empty()) {
        if (expand.empty())
          leading.push_back(k);
        else
          expand.back().push_back(k);
        continue;
      }
      ReassociationIndices r = leading;
      r.push_back(k);
      leading.clear();
      expand.push_back(r);
    }
    t = tensor::ExpandShapeOp::create(
        b, loc, RankedTensorType::get(dstShape, dstElt), t, expand);
  }
  return t;
}

LogicalResult Matcher::rewrite(DenseSet<Operation *> &erased) {
  OpBuilder b(root);
  Location loc = root->getLoc();
  Type elt = cast<ShapedType>(m.query->tensor.getType()).getElementType();
  Index qDst = {m.batchGroup, m.headGroup, {m.i}, {m.d}};
  Index kDst = {m.batchGroup, m.kvHeadGroup, {m.j}, {m.d}};
  Index vDst = {m.batchGroup, m.kvHeadGroup, {m.j}, {m.e}};
  Index oSrc = {m.batchGroup, m.headGroup, {m.i}, {m.e}};
  Value q = relayout(b, loc, m.query->tensor, m.query->index, qDst, elt);
  Value k = relayout(b, loc, m.key->tensor, m.key->index, kDst, elt);
  Value v = relayout(b, loc, m.value->tensor, m.value->index, vDst, elt);

  Value mask;
  if (m.mask) {
    SmallVector<Var> mv;
    ctx.collectVars(m.mask, mv);
    auto pick = [&](ArrayRef<Var> g) {
      bool any = llvm::any_of(
          g, [&](Var x) { return llvm::is_contained(mv, x); });
      return any ? Group(g.begin(), g.end()) : Group();
    };
    Index maskDst = {pick(m.batchGroup), pick(m.headGroup), pick({m.i}),
                     pick({m.j})};
    Type maskElt =
        cast<ShapedType>(m.mask->tensor.getType()).getElementType();
    mask = relayout(b, loc, m.mask->tensor, m.mask->index, maskDst, maskElt,
                    m.maskNegate);
  }

  auto extentOf = [&](ArrayRef<Var> g) {
    int64_t s = 1;
    for (Var x : ctx.resolve(g))
      s *= ctx.extent(x);
    return s;
  };
  auto outType = RankedTensorType::get(
      {extentOf(m.batchGroup), extentOf(m.headGroup), ctx.extent(m.i),
       ctx.extent(m.e)},
      elt);
  FloatAttr scaleAttr;
  double defaultScale = 1.0 / std::sqrt(static_cast<double>(ctx.extent(m.d)));
  if (std::abs(m.scale - defaultScale) > 1e-6 * defaultScale)
    scaleAttr = b.getF32FloatAttr(static_cast<float>(m.scale));
  DenseI64ArrayAttr window;
  if (m.kind == MaskKind::SlidingWindow)
    window = b.getDenseI64ArrayAttr({m.windowLeft, m.windowRight});
  // A finite fill matters only where some key is hidden.
  FloatAttr maskedScore;
  if (m.maskedScore && (m.kind != MaskKind::None || mask))
    maskedScore = b.getF32FloatAttr(static_cast<float>(*m.maskedScore));
  auto attention = AttentionOp::create(
      b, loc, outType, /*lse=*/Type(), q, k, v, mask,
      /*kv_num_blocks=*/Value(), /*kv_indices=*/Value(),
      /*full_kv_num_blocks=*/Value(), /*full_kv_indices=*/Value(), scaleAttr,
      m.kind, window, /*softcap=*/FloatAttr(), /*block_sizes=*/nullptr,
      maskedScore);

  Value result = root->getResult(0);
  Value out = relayout(b, loc, attention.getOutput(), oSrc, m.rootIndex,
                       cast<ShapedType>(result.getType()).getElementType());
  result.replaceAllUsesWith(out);

  // Erase what became dead, users before producers.
  llvm::SetVector<Operation *> candidates(core.begin(), core.end());
  candidates.insert(extra.begin(), extra.end());
  for (Operation *op : peripheral)
    candidates.insert(op);
  // Producers of the operands of erased ops (inits, constants) go too once
  // nothing else uses them.
  SmallVector<Operation *> worklist(candidates.rbegin(), candidates.rend());
  while (!worklist.empty()) {
    Operation *op = worklist.pop_back_val();
    if (erased.contains(op) || !op->use_empty() || !isMemoryEffectFree(op) ||
        (op->getNumRegions() != 0 && !isa<linalg::LinalgOp>(op)))
      continue;
    for (Value operand : op->getOperands())
      if (Operation *def = operand.getDefiningOp())
        worklist.push_back(def);
    op->walk([&](Operation *nested) {
      for (Value operand : nested->getOperands())
        if (Operation *def = operand.getDefiningOp())
          if (!op->isAncestor(def))
            worklist.push_back(def);
    });
    erased.insert(op);
    op->erase();
  }
  return success();
}

namespace {

bool isCandidateRoot(Operation *op) {
  if (op->getNumResults() != 1 || op->getNumRegions() > 1)
    return false;
  auto type = dyn_cast<RankedTensorType>(op->getResult(0).getType());
  return type && type.hasStaticShape() && type.getRank() >= 2 &&
         isa<FloatType>(type.getElementType());
}

struct FlashRaiseAttentionPass
    : flash::impl::FlashRaiseAttentionBase<FlashRaiseAttentionPass> {
  using Base::Base;

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    DenseSet<Operation *> erased;
    llvm::MapVector<Operation *, std::string> remarks;
    bool changed = true;
    while (changed) {
      changed = false;
      SmallVector<Operation *> candidates;
      func.walk([&](Operation *op) {
        if (isCandidateRoot(op))
          candidates.push_back(op);
      });
      for (Operation *op : llvm::reverse(candidates)) {
        Matcher matcher(op);
        if (succeeded(matcher.match())) {
          if (succeeded(matcher.rewrite(erased))) {
            changed = true;
            break;
          }
          continue;
        }
        if (matcher.nearMatch && matcher.anchor &&
            !remarks.count(matcher.anchor))
          remarks[matcher.anchor] = matcher.reason;
      }
    }
    if (!emitRemarks)
      return;
    for (auto &[op, why] : remarks)
      if (!erased.contains(op))
        op->emitRemark() << "attention not raised: " << why;
  }
};

} // namespace
