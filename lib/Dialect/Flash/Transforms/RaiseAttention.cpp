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
//===----------------------------------------------------------------------===//

#include "AttentionExpr.h"

#include "flash/Dialect/Flash/IR/FlashOps.h"
#include "flash/Dialect/Flash/Transforms/AttentionMath.h"
#include "flash/Dialect/Flash/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tosa/IR/TosaOps.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/SetVector.h"

#include <cmath>
#include <limits>

namespace mlir::flash {
#define GEN_PASS_DEF_FLASHRAISEATTENTION
#include "flash/Dialect/Flash/Transforms/Passes.h.inc"
} // namespace mlir::flash

using namespace mlir;
using namespace mlir::flash;
using namespace mlir::flash::raise;

namespace {

/// A value at or below this hides a key: -inf, or the large negative
/// constants of masked_fill-style masks. A finite one is kept as the op's
/// masked_score: keys filled with it still take part in the softmax.
constexpr double kHiddenThreshold = -1.0e4;

/// One masking step found in the scores, resolved once the query variable
/// is known.
struct MaskTerm {
  /// An i1 condition (true = the select keeps the score, after `negate`),
  /// or an additive float tensor.
  bool isCondition;
  Node *node;
  bool negate = false;
  /// The product of the scale factors applied after this term.
  double scaleAbove = 1.0;
  /// The finite value a select fills hidden scores with; none for -inf.
  std::optional<double> fill = std::nullopt;
};

/// A linear form over index variables.
struct Linear {
  SmallVector<std::pair<Var, int64_t>> coefs;
  int64_t constant = 0;

  int64_t coef(Var v) const {
    for (auto [x, c] : coefs)
      if (x == v)
        return c;
    return 0;
  }
  void add(Var v, int64_t c) {
    for (auto &[x, cx] : coefs)
      if (x == v) {
        cx += c;
        return;
      }
    coefs.push_back({v, c});
  }
  void addScaled(const Linear &o, int64_t s) {
    for (auto [x, c] : o.coefs)
      add(x, c * s);
    constant += o.constant * s;
  }
  bool nonNegative() const {
    return constant >= 0 &&
           llvm::all_of(coefs, [](auto p) { return p.second >= 0; });
  }
};

/// The result of a successful match: everything the rewrite needs.
struct AttentionMatch {
  Node *query = nullptr, *key = nullptr, *value = nullptr;
  double scale = 1.0;
  Var i = 0, j = 0, d = 0, e = 0;
  Index rootIndex;
  /// Batch variables (out order), split into the batch group, the key/value
  /// head group and the query head group (key/value heads first).
  Group batchGroup, kvHeadGroup, headGroup;
  /// The element mask operand, if any: an additive float tensor or a boolean
  /// (true = attend) one, possibly to be negated.
  Node *mask = nullptr;
  bool maskIsBool = false, maskNegate = false;
  std::optional<int64_t> upper, lower; // bounds on j - i
  MaskKind kind = MaskKind::None;
  int64_t windowLeft = 0, windowRight = 0;
  /// The finite score of hidden keys (flash.attention's masked_score), or
  /// none for -inf.
  std::optional<double> maskedScore;
};

class Matcher {
public:
  explicit Matcher(Operation *root) : root(root) {}

  LogicalResult match();
  LogicalResult rewrite(DenseSet<Operation *> &erased);

  /// Whether the failure happened after a softmax-like P·V was recognised,
  /// i.e. whether a user would want to know why.
  bool nearMatch = false;
  std::string reason;
  Operation *anchor = nullptr;

private:
  bool fail(const Twine &why) {
    reason = why.str();
    return false;
  }
  Node *expandFull(Node *n);
  Node *stripCasts(Node *n);
  bool isOp(Node *n, OpKind k) {
    return n && n->kind == NodeKind::Op && n->opKind == k;
  }
  bool isZero(Node *n) {
    std::optional<double> c = ctx.evalConst(n);
    return c && *c == 0.0;
  }
  bool isHidden(Node *n) {
    std::optional<double> c = ctx.evalConst(n);
    return c && *c <= kHiddenThreshold;
  }
  /// The finite value of a hiding constant, none for -inf.
  std::optional<double> finiteFill(Node *n) {
    std::optional<double> c = ctx.evalConst(n);
    if (c && std::isfinite(*c))
      return c;
    return std::nullopt;
  }
  /// Whether a row maximum starts at or below every value it can see: -inf,
  /// or the lowest finite value of its element type. A higher start (say
  /// -1e4) changes the result where every score is below it.
  bool startsBelowEveryScore(Node *maxReduce) {
    std::optional<double> c = ctx.evalConst(maxReduce->init);
    if (!c)
      return false;
    if (std::isinf(*c))
      return *c < 0;
    if (!maxReduce->origin || maxReduce->origin->getNumResults() == 0)
      return false;
    auto type = dyn_cast<FloatType>(
        getElementTypeOrSelf(maxReduce->origin->getResult(0).getType()));
    return type &&
           *c <= APFloat::getLargest(type.getFloatSemantics(), /*Negative=*/true)
                     .convertToDouble();
  }
  bool isOne(Node *n) {
    std::optional<double> c = ctx.evalConst(n);
    return c && *c == 1.0;
  }
  std::optional<Var> single(ArrayRef<Var> g) {
    Group r = ctx.resolve(g);
    if (r.size() != 1)
      return std::nullopt;
    return r[0];
  }
  bool contains(Node *n, Var v) { return ctx.dependsOn(n, v); }

  bool normalized(Node *n, Node *&num, Node *&den);
  bool matchProbabilities(Node *p, Node *v, Node *postDen);
  bool matchExponential(Node *e, Node *&scores);
  bool matchRowSum(Node *z, Node *e);
  bool matchScores(Node *s);
  bool addAdditiveTerm(Node *t, double scaleAbove);
  bool leadsToDot(Node *n, int depth = 0);
  Node *stripLeaf(Node *n, double *scale);
  bool resolveLayout();
  bool resolveMasks();
  bool resolveFill();
  bool resolveCondition(Node *c, bool negate);
  bool addConstraint(Node *cmp, bool negate);
  bool linearForm(Node *n, Linear &out, int depth = 0);
  bool setMaskOperand(Node *view, bool isBool, bool negate);
  std::optional<bool> constantPattern(Node *view, bool isBool, bool negate);
  bool checkUses();

  Value relayout(OpBuilder &b, Location loc, Value src, const Index &srcIdx,
                 const Index &dst, Type dstElt, bool negate = false);

  Operation *root;
  ExprContext ctx;
  AttentionMatch m;
  SmallVector<MaskTerm> terms;
  DenseSet<Operation *> peripheral;
  llvm::SetVector<Operation *> core;
  SmallVector<Operation *> extra;
};

//===----------------------------------------------------------------------===//
// Recognisers
//===----------------------------------------------------------------------===//

Node *Matcher::expandFull(Node *n) {
  while (n && n->kind == NodeKind::View) {
    Node *e = ctx.expand(n);
    if (!e)
      return n;
    n = e;
  }
  return n;
}

Node *Matcher::stripCasts(Node *n) {
  n = expandFull(n);
  while (isOp(n, OpKind::ExtF) || isOp(n, OpKind::TruncF))
    n = expandFull(n->operands[0]);
  return n;
}

/// num / den, spelled as a division, a multiplication by a reciprocal, or
/// the zero-guarded division of flash-decompose-attention.
bool Matcher::normalized(Node *n, Node *&num, Node *&den) {
  n = expandFull(n);
  if (isOp(n, OpKind::DivF) && !isOne(n->operands[0])) {
    num = n->operands[0];
    den = n->operands[1];
    return true;
  }
  if (isOp(n, OpKind::MulF)) {
    for (int k = 0; k < 2; ++k) {
      Node *r = stripCasts(n->operands[1 - k]);
      if (isOp(r, OpKind::DivF) && isOne(r->operands[0])) {
        num = n->operands[k];
        den = r->operands[1];
        return true;
      }
    }
  }
  // select(z == 0, 0, x / z)
  if (isOp(n, OpKind::Select) && isZero(n->operands[1])) {
    Node *c = expandFull(n->operands[0]);
    if (isOp(c, OpKind::CmpF) &&
        c->predicate == static_cast<int64_t>(arith::CmpFPredicate::OEQ) &&
        normalized(n->operands[2], num, den)) {
      DenseMap<Var, Var> map;
      for (int k = 0; k < 2; ++k)
        if (isZero(c->operands[1 - k]) &&
            ctx.equal(c->operands[k], den, map))
          return true;
    }
  }
  return false;
}

bool Matcher::matchExponential(Node *e, Node *&scores) {
  Node *x = stripCasts(e);
  if (!isOp(x, OpKind::Exp))
    return fail("the numerator of the softmax is not an exponential");
  Node *arg = expandFull(x->operands[0]);
  if (!isOp(arg, OpKind::SubF)) {
    scores = x->operands[0];
    return true;
  }
  Node *mx = expandFull(arg->operands[1]);
  // The guard of flash-decompose-attention: select(m == -inf, 0, m).
  if (isOp(mx, OpKind::Select) && isZero(mx->operands[1])) {
    Node *c = expandFull(mx->operands[0]);
    if (isOp(c, OpKind::CmpF) &&
        c->predicate == static_cast<int64_t>(arith::CmpFPredicate::OEQ))
      mx = expandFull(mx->operands[2]);
  }
  if (!mx || mx->kind != NodeKind::Reduce ||
      mx->reduceKind != ReduceKind::Max)
    return fail("the exponent subtracts something other than a row maximum");
  std::optional<Var> r = single(mx->vars);
  if (!r || !startsBelowEveryScore(mx))
    return fail("the row maximum does not start from -inf (or the lowest "
                "finite value of its type)");
  DenseMap<Var, Var> map;
  map[*r] = m.j;
  if (!ctx.equal(arg->operands[0], mx->body, map))
    return fail("the row maximum is not taken over the scores along the key "
                "axis contracted with V");
  scores = arg->operands[0];
  return true;
}

bool Matcher::matchRowSum(Node *z, Node *e) {
  Node *s = stripCasts(z);
  if (!s || s->kind != NodeKind::Reduce || s->reduceKind != ReduceKind::Add)
    return fail("the normalizer is not a sum");
  std::optional<Var> r = single(s->vars);
  if (!r || !isZero(s->init))
    return fail("the normalizer is not a plain row sum");
  DenseMap<Var, Var> map;
  map[*r] = m.j;
  if (!ctx.equal(e, s->body, map))
    return fail("the normalizer is not the sum of the exponentials along the "
                "key axis contracted with V");
  return true;
}

bool Matcher::matchProbabilities(Node *p, Node *v, Node *postDen) {
  Node *e = p, *z = postDen;
  if (!postDen) {
    Node *pn = stripCasts(p);
    if (!normalized(pn, e, z)) {
      if (isOp(pn, OpKind::Exp)) {
        nearMatch = true;
        return fail("exp(...) is multiplied with V without being normalized "
                    "by its row sum");
      }
      return fail("the operand of the contraction is not a softmax");
    }
  }
  Node *ex = stripCasts(e);
  if (!isOp(ex, OpKind::Exp))
    return fail("the operand of the contraction is not a softmax");
  nearMatch = true;
  Node *scores = nullptr;
  if (!matchExponential(e, scores) || !matchRowSum(z, e) ||
      !matchScores(scores))
    return false;
  m.value = stripLeaf(v, nullptr);
  if (!m.value)
    return fail("the value operand is not read from a tensor");
  return true;
}

bool Matcher::leadsToDot(Node *n, int depth) {
  if (!n || depth > 12)
    return false;
  switch (n->kind) {
  case NodeKind::View:
    return leadsToDot(ctx.expand(n), depth + 1);
  case NodeKind::Reduce:
    return n->reduceKind == ReduceKind::Add;
  case NodeKind::Op:
    return llvm::any_of(n->operands,
                        [&](Node *o) { return leadsToDot(o, depth + 1); });
  default:
    return false;
  }
}

/// Follows an operand through layout ops, exact casts and (if `scale` is
/// given) multiplications by constants, to the view of the tensor it is read
/// from. The ops passed through are not part of the attention.
Node *Matcher::stripLeaf(Node *n, double *scale) {
  Node *last = nullptr;
  while (n) {
    if (n->kind == NodeKind::View) {
      last = n;
      Node *e = ctx.expand(n);
      if (!e)
        break;
      bool through = e->kind == NodeKind::View || isOp(e, OpKind::ExtF);
      if (scale && (isOp(e, OpKind::MulF) || isOp(e, OpKind::DivF)))
        through = true;
      if (!through)
        break;
      peripheral.insert(n->tensor.getDefiningOp());
      n = e;
      continue;
    }
    if (isOp(n, OpKind::ExtF)) {
      n = n->operands[0];
      continue;
    }
    if (scale && isOp(n, OpKind::MulF)) {
      if (std::optional<double> c = ctx.evalConst(n->operands[1])) {
        *scale *= *c;
        n = n->operands[0];
        continue;
      }
      if (std::optional<double> c = ctx.evalConst(n->operands[0])) {
        *scale *= *c;
        n = n->operands[1];
        continue;
      }
      return nullptr;
    }
    if (scale && isOp(n, OpKind::DivF)) {
      if (std::optional<double> c = ctx.evalConst(n->operands[1])) {
        *scale /= *c;
        n = n->operands[0];
        continue;
      }
      return nullptr;
    }
    return nullptr;
  }
  return n == last ? last : nullptr;
}

bool Matcher::matchScores(Node *s) {
  double scale = 1.0;
  Node *n = s;
  while (true) {
    n = expandFull(n);
    if (!n || n->kind == NodeKind::View)
      return fail("the scores are read from a tensor the pass cannot see "
                  "through");
    if (n->kind == NodeKind::Reduce)
      break;
    if (n->kind != NodeKind::Op)
      return fail("the scores are not computed from a contraction");
    switch (n->opKind) {
    case OpKind::ExtF:
    case OpKind::TruncF:
      n = n->operands[0];
      continue;
    case OpKind::MulF:
      if (std::optional<double> c = ctx.evalConst(n->operands[1])) {
        scale *= *c;
        n = n->operands[0];
        continue;
      }
      if (std::optional<double> c = ctx.evalConst(n->operands[0])) {
        scale *= *c;
        n = n->operands[1];
        continue;
      }
      return fail("the scores are multiplied by a non-constant");
    case OpKind::DivF:
      if (std::optional<double> c = ctx.evalConst(n->operands[1])) {
        scale /= *c;
        n = n->operands[0];
        continue;
      }
      return fail("the scores are divided by a non-constant");
    case OpKind::Select:
      if (isHidden(n->operands[2])) {
        terms.push_back({true, n->operands[0], false, scale,
                         finiteFill(n->operands[2])});
        n = n->operands[1];
        continue;
      }
      if (isHidden(n->operands[1])) {
        terms.push_back({true, n->operands[0], true, scale,
                         finiteFill(n->operands[1])});
        n = n->operands[2];
        continue;
      }
      return fail("a select on the scores does not replace them with -inf or "
                  "a large negative value");
    case OpKind::AddF: {
      bool l = leadsToDot(n->operands[0]), r = leadsToDot(n->operands[1]);
      if (l == r)
        return fail("cannot tell the scores from the mask in an addition");
      if (!addAdditiveTerm(n->operands[l ? 1 : 0], scale))
        return false;
      n = n->operands[l ? 0 : 1];
      continue;
    }
    default:
      return fail("the scores go through an operation that is not a scale, "
                  "a mask or a cast");
    }
  }
  if (n->reduceKind != ReduceKind::Add || !isZero(n->init))
    return fail("the scores are not a plain sum of products");
  std::optional<Var> d = single(n->vars);
  if (!d)
    return fail("the scores contract more than one axis");
  m.d = *d;
  Node *body = stripCasts(n->body);
  if (!isOp(body, OpKind::MulF))
    return fail("the scores are not a sum of products");
  double qs = 1.0, ks = 1.0;
  Node *a = stripLeaf(body->operands[0], &qs);
  Node *b = stripLeaf(body->operands[1], &ks);
  if (!a || !b)
    return fail("the query or the key is not read from a tensor");
  bool aj = contains(a, m.j), bj = contains(b, m.j);
  if (aj == bj)
    return fail("cannot tell the query from the key");
  m.query = aj ? b : a;
  m.key = aj ? a : b;
  m.scale = scale * qs * ks;
  if (!(m.scale > 0) || !std::isfinite(m.scale))
    return fail("the scale is not positive and finite");
  for (const MaskTerm &t : terms)
    if (t.isCondition && t.scaleAbove <= 0)
      return fail("a mask is applied before a non-positive scale");
  return true;
}

bool Matcher::addAdditiveTerm(Node *t, double scaleAbove) {
  Node *lastView = nullptr;
  while (t) {
    if (t->kind == NodeKind::View) {
      lastView = t;
      Node *e = ctx.expand(t);
      if (!e)
        break;
      peripheral.insert(t->tensor.getDefiningOp());
      t = e;
      continue;
    }
    if (t->kind == NodeKind::Const) {
      if (isHidden(t))
        return fail("a constant -inf is added to every score");
      return true; // A constant shift does not change the softmax.
    }
    if (isOp(t, OpKind::ExtF)) {
      t = t->operands[0];
      continue;
    }
    // select(c, 0, -inf) hides keys. A finite fill is added to the scores
    // instead (their sum, not the fill, reaches the softmax): such a mask
    // is kept as the tensor it is read from.
    if (isOp(t, OpKind::Select)) {
      if (isZero(t->operands[1]) && isHidden(t->operands[2]) &&
          !finiteFill(t->operands[2])) {
        terms.push_back({true, t->operands[0], false, scaleAbove});
        return true;
      }
      if (isHidden(t->operands[1]) && isZero(t->operands[2]) &&
          !finiteFill(t->operands[1])) {
        terms.push_back({true, t->operands[0], true, scaleAbove});
        return true;
      }
    }
    break;
  }
  if (!lastView)
    return fail("the additive mask is not read from a tensor");
  terms.push_back({false, lastView, false, scaleAbove});
  return true;
}

//===----------------------------------------------------------------------===//
// Layout: which variables are batch, heads, lengths and head dims
//===----------------------------------------------------------------------===//

bool Matcher::resolveLayout() {
  std::optional<Var> j = single(ArrayRef<Var>{m.j});
  std::optional<Var> d = single(ArrayRef<Var>{m.d});
  if (!j || !d)
    return fail("the key or head-dim axis is split by a reshape");
  m.j = *j;
  m.d = *d;
  SmallVector<Var> qv, kv, vv;
  ctx.collectVars(m.query, qv);
  ctx.collectVars(m.key, kv);
  ctx.collectVars(m.value, vv);
  Group out = ctx.flatten(m.rootIndex);

  std::optional<Var> i;
  for (Var v : ctx.flatten(m.query->index))
    if (v != m.d && !llvm::is_contained(kv, v) &&
        !llvm::is_contained(vv, v))
      i = v;
  if (!i)
    return fail("the query has no query-length axis of its own");
  m.i = *i;
  std::optional<Var> e;
  for (Var v : vv) {
    if (v == m.j || llvm::is_contained(qv, v) || llvm::is_contained(kv, v))
      continue;
    if (e)
      return fail("the value has more than one axis of its own");
    e = v;
  }
  if (!e)
    return fail("the value has no head-dim axis of its own");
  m.e = *e;
  if (!llvm::is_contained(out, m.i) || !llvm::is_contained(out, m.e) ||
      llvm::is_contained(out, m.j) || llvm::is_contained(out, m.d) ||
      !llvm::is_contained(qv, m.d) || !llvm::is_contained(kv, m.d) ||
      !llvm::is_contained(kv, m.j) || !llvm::is_contained(vv, m.j))
    return fail("the output is not indexed by the query and value axes");

  Group batch;
  for (Var v : out)
    if (v != m.i && v != m.e)
      batch.push_back(v);
  auto subset = [&](ArrayRef<Var> vars, std::initializer_list<Var> more) {
    return llvm::all_of(vars, [&](Var v) {
      return llvm::is_contained(batch, v) || llvm::is_contained(more, v);
    });
  };
  if (!subset(qv, {m.i, m.d}) || !subset(kv, {m.j, m.d}) ||
      !subset(vv, {m.j, m.e}))
    return fail("the query, key or value depends on an axis the output "
                "does not have");

  Group kvVars, groupVars;
  for (Var v : batch) {
    if (llvm::is_contained(kv, v) || llvm::is_contained(vv, v))
      kvVars.push_back(v);
    else
      groupVars.push_back(v);
  }
  // The outermost key/value variable is the batch when there is anything
  // left for the heads; [B·H, L, D] graphs become [1, B·H, L, D].
  if (!kvVars.empty() && batch.size() >= 2) {
    m.batchGroup = {kvVars.front()};
    m.kvHeadGroup.assign(kvVars.begin() + 1, kvVars.end());
  } else {
    m.kvHeadGroup = kvVars;
  }
  m.headGroup = m.kvHeadGroup;
  m.headGroup.append(groupVars);
  return true;
}

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
