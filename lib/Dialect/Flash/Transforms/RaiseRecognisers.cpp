//===- RaiseRecognisers.cpp - softmax, scores and layout of an attention --===//
//
// The recognisers of flash-raise-attention: P · V with P a softmax spelled
// as a division, a reciprocal multiplication or linalg.softmax; the
// exponential of the scores less their row maximum; the row sum that
// normalises it; the scores as a scaled sum of products of the query and the
// key with the masks applied on the way; and the layout, which index
// variables are batch, heads, lengths and head dims.
//
//===----------------------------------------------------------------------===//

#include "RaiseMatcher.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/TypeUtilities.h"

#include <cmath>

using namespace mlir;
using namespace mlir::flash;
using namespace mlir::flash::raise;

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

bool Matcher::startsBelowEveryScore(Node *maxReduce) {
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
