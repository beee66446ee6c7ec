//===- RaiseMasks.cpp - masks of an attention graph -----------------------===//
//
// The masks of flash-raise-attention: the masking steps met in the scores
// (selects and additive terms) become the one score hidden keys get (a
// finite fill or -inf), bounds on j - i read from linear forms of the index
// variables (causal and sliding-window masks), dense constant masks that
// are causal or hide nothing, and at most one mask operand.
//
//===----------------------------------------------------------------------===//

#include "RaiseMatcher.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Matchers.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>

using namespace mlir;
using namespace mlir::flash;
using namespace mlir::flash::raise;

//===----------------------------------------------------------------------===//
// Masks
//===----------------------------------------------------------------------===//

bool Matcher::linearForm(Node *n, Linear &out, int depth) {
  n = expandFull(n);
  if (!n || depth > 12)
    return false;
  switch (n->kind) {
  case NodeKind::Const:
    if (n->value != std::floor(n->value))
      return false;
    out.constant = static_cast<int64_t>(n->value);
    return true;
  case NodeKind::IndexOf: {
    Group g = ctx.resolve(n->group);
    int64_t stride = 1;
    for (Var v : llvm::reverse(g)) {
      out.add(v, stride);
      stride *= ctx.extent(v);
    }
    return true;
  }
  case NodeKind::Op: {
    Linear a, b;
    switch (n->opKind) {
    case OpKind::IntCast:
      return linearForm(n->operands[0], out, depth + 1);
    case OpKind::AddI:
    case OpKind::SubI:
      if (!linearForm(n->operands[0], a, depth + 1) ||
          !linearForm(n->operands[1], b, depth + 1))
        return false;
      out = a;
      out.addScaled(b, n->opKind == OpKind::AddI ? 1 : -1);
      return true;
    case OpKind::MulI: {
      std::optional<double> c0 = ctx.evalConst(n->operands[0]);
      std::optional<double> c1 = ctx.evalConst(n->operands[1]);
      if (c1 && linearForm(n->operands[0], a, depth + 1)) {
        out.addScaled(a, static_cast<int64_t>(*c1));
        return true;
      }
      if (c0 && linearForm(n->operands[1], a, depth + 1)) {
        out.addScaled(a, static_cast<int64_t>(*c0));
        return true;
      }
      return false;
    }
    default:
      return false;
    }
  }
  default:
    return false;
  }
}

/// The predicate that holds for (b, a) when `pred` holds for (a, b).
static arith::CmpIPredicate swapOperands(arith::CmpIPredicate pred) {
  using P = arith::CmpIPredicate;
  switch (pred) {
  case P::slt:
    return P::sgt;
  case P::sle:
    return P::sge;
  case P::sgt:
    return P::slt;
  case P::sge:
    return P::sle;
  case P::ult:
    return P::ugt;
  case P::ule:
    return P::uge;
  case P::ugt:
    return P::ult;
  case P::uge:
    return P::ule;
  default:
    return pred;
  }
}

/// Records `lhs pred rhs` (negated if asked) as a bound on j - i.
bool Matcher::addConstraint(Node *cmp, bool negate) {
  using P = arith::CmpIPredicate;
  auto pred = static_cast<P>(cmp->predicate);
  Linear lhs, rhs;
  if (!linearForm(cmp->operands[0], lhs) ||
      !linearForm(cmp->operands[1], rhs))
    return false;
  bool isUnsigned = pred == P::ult || pred == P::ule || pred == P::ugt ||
                    pred == P::uge;
  if (isUnsigned && (!lhs.nonNegative() || !rhs.nonNegative()))
    return false;
  if (negate)
    pred = arith::invertPredicate(pred);
  Linear diff = lhs;
  diff.addScaled(rhs, -1);
  for (auto [v, c] : diff.coefs)
    if (c != 0 && v != m.i && v != m.j)
      return false;
  int64_t cj = diff.coef(m.j), ci = diff.coef(m.i);
  if (std::abs(cj) != 1 || ci != -cj)
    return false;
  if (cj == -1) {
    diff = Linear();
    diff.addScaled(lhs, -1);
    diff.addScaled(rhs, 1);
    pred = swapOperands(pred);
  }
  // Now j - i + c (pred) 0.
  int64_t c = diff.constant;
  auto setUpper = [&](int64_t u) {
    m.upper = m.upper ? std::min(*m.upper, u) : u;
  };
  auto setLower = [&](int64_t l) {
    m.lower = m.lower ? std::max(*m.lower, l) : l;
  };
  switch (pred) {
  case P::sle:
  case P::ule:
    setUpper(-c);
    return true;
  case P::slt:
  case P::ult:
    setUpper(-c - 1);
    return true;
  case P::sge:
  case P::uge:
    setLower(-c);
    return true;
  case P::sgt:
  case P::ugt:
    setLower(-c + 1);
    return true;
  case P::eq:
    setUpper(-c);
    setLower(-c);
    return true;
  case P::ne:
    return false;
  }
  return false;
}

/// For a mask read from a dense constant: whether it is exactly a causal
/// (top-left or bottom-right) mask or hides nothing, recorded as bounds.
/// Returns nullopt when it is some other mask.
std::optional<bool> Matcher::constantPattern(Node *view, bool isBool,
                                             bool negate) {
  Attribute attr;
  if (!matchPattern(view->tensor, m_Constant(&attr)))
    return std::nullopt;
  auto dense = dyn_cast<DenseElementsAttr>(attr);
  if (!dense || dense.getNumElements() > (1 << 22))
    return std::nullopt;
  Index idx = ctx.resolve(view->index);
  int ai = -1, aj = -1;
  for (auto [a, g] : llvm::enumerate(idx)) {
    if (g.size() == 1 && g[0] == m.i)
      ai = a;
    if (g.size() == 1 && g[0] == m.j)
      aj = a;
  }
  if (ai < 0 || aj < 0)
    return std::nullopt;
  ArrayRef<int64_t> shape = dense.getType().getShape();
  SmallVector<int64_t> strides(shape.size(), 1);
  for (int a = static_cast<int>(shape.size()) - 2; a >= 0; --a)
    strides[a] = strides[a + 1] * shape[a + 1];
  int64_t offset = ctx.extent(m.j) - ctx.extent(m.i);
  bool causal = true, bottomRight = true, none = true;
  int64_t flat = 0;
  auto visit = [&](bool visible) {
    int64_t qi = (flat / strides[ai]) % shape[ai];
    int64_t kj = (flat / strides[aj]) % shape[aj];
    causal &= visible == (kj <= qi);
    bottomRight &= visible == (kj <= qi + offset);
    none &= visible;
    ++flat;
  };
  if (isBool) {
    if (!dense.getElementType().isInteger(1))
      return std::nullopt;
    for (bool b : dense.getValues<bool>())
      visit(b != negate);
  } else {
    if (!isa<FloatType>(dense.getElementType()))
      return std::nullopt;
    for (APFloat f : dense.getValues<APFloat>()) {
      // Only -inf hides exactly: a finite bias is added to the score, so
      // such a constant stays an additive mask operand.
      double x = f.convertToDouble();
      if (x != 0.0 && !(std::isinf(x) && x < 0))
        return std::nullopt;
      visit(x == 0.0);
    }
  }
  if (none)
    return true;
  if (causal) {
    m.upper = m.upper ? std::min<int64_t>(*m.upper, 0) : 0;
    return true;
  }
  if (bottomRight) {
    m.upper = m.upper ? std::min(*m.upper, offset) : offset;
    return true;
  }
  return std::nullopt;
}

bool Matcher::setMaskOperand(Node *view, bool isBool, bool negate) {
  if (std::optional<bool> structural = constantPattern(view, isBool, negate))
    return *structural;
  if (m.mask)
    return fail("more than one mask tensor is applied to the scores");
  m.mask = view;
  m.maskIsBool = isBool;
  m.maskNegate = negate;
  return true;
}

bool Matcher::resolveCondition(Node *c, bool negate) {
  Node *lastView = nullptr;
  bool negAtView = false;
  while (c) {
    if (c->kind == NodeKind::View) {
      lastView = c;
      negAtView = negate;
      Node *e = ctx.expand(c);
      if (!e)
        break;
      peripheral.insert(c->tensor.getDefiningOp());
      c = e;
      continue;
    }
    if (isOp(c, OpKind::XOrI)) {
      if (isOne(c->operands[1])) {
        negate = !negate;
        c = c->operands[0];
        continue;
      }
      if (isOne(c->operands[0])) {
        negate = !negate;
        c = c->operands[1];
        continue;
      }
    }
    if (isOp(c, OpKind::AndI) && !negate)
      return resolveCondition(c->operands[0], false) &&
             resolveCondition(c->operands[1], false);
    if (isOp(c, OpKind::OrI) && negate)
      return resolveCondition(c->operands[0], true) &&
             resolveCondition(c->operands[1], true);
    if (isOp(c, OpKind::CmpI) && addConstraint(c, negate))
      return true;
    break;
  }
  if (!lastView)
    return fail("a mask predicate on the indices is not a causal or "
                "sliding-window band");
  auto type = cast<RankedTensorType>(lastView->tensor.getType());
  if (!type.getElementType().isInteger(1))
    return fail("a select mask is not a boolean tensor");
  return setMaskOperand(lastView, /*isBool=*/true, negAtView);
}

static std::string printed(double value) {
  std::string text;
  llvm::raw_string_ostream(text) << value;
  return text;
}

/// The one score that the selects give hidden keys, at the softmax: none for
/// -inf, or a finite value (flash.attention's masked_score). Fails when the
/// graph gives hidden keys scores that one value cannot describe.
bool Matcher::resolveFill() {
  std::optional<double> fill;
  bool negInfFill = false, additive = false;
  for (const MaskTerm &t : terms) {
    if (!t.isCondition) {
      additive = true;
      continue;
    }
    if (!t.fill) {
      negInfFill = true;
      continue;
    }
    double value = *t.fill * t.scaleAbove;
    if (fill && *fill != value)
      return fail("two selects fill hidden scores with different finite "
                  "values (" + printed(*fill) + " and " + printed(value) +
                  " at the softmax)");
    fill = value;
  }
  if (fill && negInfFill)
    return fail("one select fills hidden scores with -inf and another with " +
                printed(*fill) + ": flash.attention gives all hidden keys one "
                "score");
  if (fill && additive)
    return fail("a select fills hidden scores with the finite value " +
                printed(*fill) + " and an additive mask is applied too: "
                "flash.attention cannot say which keys take the fill");
  m.maskedScore = fill;
  return true;
}

bool Matcher::resolveMasks() {
  if (!resolveFill())
    return false;
  for (const MaskTerm &t : terms) {
    if (t.isCondition) {
      if (!resolveCondition(t.node, t.negate))
        return false;
      continue;
    }
    auto type = cast<RankedTensorType>(t.node->tensor.getType());
    if (!isa<FloatType>(type.getElementType()))
      return fail("an additive mask is not a float tensor");
    std::optional<bool> structural = constantPattern(t.node, false, false);
    if (structural) {
      if (!*structural)
        return false;
      continue;
    }
    if (t.scaleAbove != 1.0)
      return fail("an additive mask is scaled together with the scores");
    if (!setMaskOperand(t.node, false, false))
      return false;
  }
  if (m.mask) {
    SmallVector<Var> mv;
    ctx.collectVars(m.mask, mv);
    for (Var v : mv)
      if (v != m.i && v != m.j && !llvm::is_contained(m.batchGroup, v) &&
          !llvm::is_contained(m.headGroup, v))
        return fail("the mask depends on an axis the scores do not have");
  }
  if (!m.upper && !m.lower)
    return true;
  int64_t lq = ctx.extent(m.i), lk = ctx.extent(m.j);
  int64_t offset = lk - lq;
  bool hidesNothing = (!m.upper || *m.upper >= lk - 1) &&
                      (!m.lower || *m.lower <= -(lq - 1));
  if (hidesNothing)
    return true;
  if (!m.lower && *m.upper == 0) {
    m.kind = MaskKind::CausalTopLeft;
    return true;
  }
  if (!m.lower && *m.upper == offset) {
    m.kind = MaskKind::CausalBottomRight;
    return true;
  }
  int64_t all = lq + lk;
  m.windowLeft = m.lower ? offset - *m.lower : all;
  m.windowRight = m.upper ? *m.upper - offset : all;
  if (m.windowLeft < 0 || m.windowRight < 0)
    return fail("the index mask is a band that no mask kind expresses");
  m.kind = MaskKind::SlidingWindow;
  return true;
}
