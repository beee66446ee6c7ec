//===- AttentionExpr.cpp - Index-space expressions for raising ------------===//
//
// The expression model of AttentionExpr.h itself: index variables and their
// refinement by splits, node construction, and the queries the matcher asks
// of an expression (free variables, structural equality up to renaming,
// constant folding). Building expressions from the ops that produce a tensor
// is in AttentionExprExpand.cpp.
//
//===----------------------------------------------------------------------===//

#include "AttentionExpr.h"

#include "mlir/IR/BuiltinTypes.h"

#include <cmath>

using namespace mlir;
using namespace mlir::flash::raise;

//===----------------------------------------------------------------------===//
// Variables and nodes
//===----------------------------------------------------------------------===//

Var ExprContext::newVar(int64_t extent) {
  extents.push_back(extent);
  return extents.size() - 1;
}

Group ExprContext::resolve(ArrayRef<Var> g) const {
  Group out;
  for (Var v : g) {
    auto it = refinement.find(v);
    if (it == refinement.end()) {
      out.push_back(v);
      continue;
    }
    Var parts[2] = {it->second.first, it->second.second};
    out.append(resolve(parts));
  }
  return out;
}

Index ExprContext::resolve(const Index &idx) const {
  Index out;
  for (const Group &g : idx)
    out.push_back(resolve(g));
  return out;
}

Group ExprContext::flatten(const Index &idx) const {
  Group out;
  for (const Group &g : idx)
    out.append(resolve(g));
  return out;
}

std::pair<Var, Var> ExprContext::splitVar(Var v, int64_t outer,
                                          int64_t inner) {
  Var o = newVar(outer), i = newVar(inner);
  refinement[v] = {o, i};
  return {o, i};
}

bool ExprContext::splitVars(ArrayRef<Var> vars, ArrayRef<int64_t> shape,
                            Index &out) {
  out.assign(shape.size(), Group());
  SmallVector<int64_t> rem(shape.begin(), shape.end());
  for (int64_t s : rem)
    if (ShapedType::isDynamic(s) || s <= 0)
      return false;
  size_t a = 0;
  auto skipDone = [&] {
    while (a < rem.size() && rem[a] == 1)
      ++a;
  };
  for (Var v : vars) {
    int64_t e = extent(v);
    if (e == 1) {
      // A variable of extent 1 is always 0: attach it anywhere.
      skipDone();
      if (shape.empty())
        return false;
      out[std::min(a, rem.size() - 1)].push_back(v);
      continue;
    }
    while (true) {
      skipDone();
      if (a >= rem.size())
        return false;
      int64_t r = rem[a];
      if (e == r) {
        out[a].push_back(v);
        rem[a] = 1;
        break;
      }
      if (e < r) {
        if (r % e)
          return false;
        out[a].push_back(v);
        rem[a] = r / e;
        break;
      }
      if (e % r)
        return false;
      auto [outer, inner] = splitVar(v, r, e / r);
      out[a].push_back(outer);
      rem[a] = 1;
      v = inner;
      e /= r;
    }
  }
  skipDone();
  return a == rem.size();
}

Node *ExprContext::make(NodeKind kind) {
  nodes.emplace_back();
  nodes.back().kind = kind;
  return &nodes.back();
}

Node *ExprContext::view(Value tensor, Index index) {
  Node *n = make(NodeKind::View);
  n->tensor = tensor;
  n->index = std::move(index);
  return n;
}

Node *ExprContext::constant(double value) {
  Node *n = make(NodeKind::Const);
  n->value = value;
  return n;
}

Node *ExprContext::scalarLeaf(Value v) {
  Node *n = make(NodeKind::ScalarLeaf);
  n->scalar = v;
  return n;
}

Node *ExprContext::op(OpKind kind, ArrayRef<Node *> operands,
                      int64_t predicate, Operation *origin) {
  Node *n = make(NodeKind::Op);
  n->opKind = kind;
  n->operands.assign(operands.begin(), operands.end());
  n->predicate = predicate;
  n->origin = origin;
  return n;
}

Node *ExprContext::reduce(ReduceKind kind, Group vars, Node *init, Node *body,
                          Operation *origin) {
  Node *n = make(NodeKind::Reduce);
  n->reduceKind = kind;
  n->vars = std::move(vars);
  n->init = init;
  n->body = body;
  n->origin = origin;
  return n;
}

Node *ExprContext::indexOf(Group g) {
  Node *n = make(NodeKind::IndexOf);
  n->group = std::move(g);
  return n;
}

//===----------------------------------------------------------------------===//
// Queries
//===----------------------------------------------------------------------===//

void ExprContext::collectVars(Node *n, SmallVectorImpl<Var> &out) {
  auto add = [&](ArrayRef<Var> g) {
    for (Var v : resolve(g))
      if (!llvm::is_contained(out, v))
        out.push_back(v);
  };
  switch (n->kind) {
  case NodeKind::View:
    for (const Group &g : n->index)
      add(g);
    return;
  case NodeKind::IndexOf:
    add(n->group);
    return;
  case NodeKind::Const:
  case NodeKind::ScalarLeaf:
    return;
  case NodeKind::Op:
    for (Node *o : n->operands)
      collectVars(o, out);
    return;
  case NodeKind::Reduce: {
    SmallVector<Var> inner;
    collectVars(n->init, inner);
    collectVars(n->body, inner);
    Group bound = resolve(n->vars);
    for (Var v : inner)
      if (!llvm::is_contained(bound, v) && !llvm::is_contained(out, v))
        out.push_back(v);
    return;
  }
  }
}

bool ExprContext::dependsOn(Node *n, Var v) {
  SmallVector<Var> vars;
  collectVars(n, vars);
  Group parts = resolve(ArrayRef<Var>{v});
  return llvm::any_of(parts,
                      [&](Var p) { return llvm::is_contained(vars, p); });
}

static bool isCommutative(OpKind k) {
  switch (k) {
  case OpKind::AddF:
  case OpKind::MulF:
  case OpKind::MaxF:
  case OpKind::MinF:
  case OpKind::AndI:
  case OpKind::OrI:
  case OpKind::XOrI:
  case OpKind::AddI:
  case OpKind::MulI:
    return true;
  default:
    return false;
  }
}

bool ExprContext::equal(Node *a, Node *b, DenseMap<Var, Var> &map,
                        int depth) {
  if (depth > 32)
    return false;
  auto mapGroup = [&](ArrayRef<Var> g) {
    Group out;
    for (Var v : resolve(g)) {
      auto it = map.find(v);
      out.push_back(it == map.end() ? v : it->second);
    }
    return out;
  };
  if (a->kind == NodeKind::View && b->kind == NodeKind::View &&
      a->tensor == b->tensor) {
    if (a->index.size() != b->index.size())
      return false;
    for (auto [ga, gb] : llvm::zip(a->index, b->index))
      if (resolve(ga) != mapGroup(gb))
        return false;
    return true;
  }
  if (a->kind == NodeKind::View || b->kind == NodeKind::View) {
    if (a->kind == NodeKind::View)
      if (Node *ea = expand(a))
        return equal(ea, b, map, depth + 1);
    if (b->kind == NodeKind::View)
      if (Node *eb = expand(b))
        return equal(a, eb, map, depth + 1);
    return false;
  }
  if (a->kind != b->kind)
    return false;
  switch (a->kind) {
  case NodeKind::View:
    return false;
  case NodeKind::Const:
    return a->value == b->value ||
           (std::isnan(a->value) && std::isnan(b->value));
  case NodeKind::ScalarLeaf:
    return a->scalar == b->scalar;
  case NodeKind::IndexOf:
    return resolve(a->group) == mapGroup(b->group);
  case NodeKind::Op: {
    if (a->opKind != b->opKind || a->predicate != b->predicate ||
        a->operands.size() != b->operands.size() ||
        a->opKind == OpKind::Other)
      return false;
    bool same = true;
    for (auto [x, y] : llvm::zip(a->operands, b->operands))
      if (!equal(x, y, map, depth + 1)) {
        same = false;
        break;
      }
    if (same)
      return true;
    if (isCommutative(a->opKind) && a->operands.size() == 2)
      return equal(a->operands[0], b->operands[1], map, depth + 1) &&
             equal(a->operands[1], b->operands[0], map, depth + 1);
    return false;
  }
  case NodeKind::Reduce: {
    if (a->reduceKind != b->reduceKind)
      return false;
    Group va = resolve(a->vars), vb = resolve(b->vars);
    if (va.size() != vb.size())
      return false;
    SmallVector<Var> added;
    for (auto [x, y] : llvm::zip(va, vb)) {
      if (extent(x) != extent(y) || map.count(y))
        return false;
      if (x != y) {
        map[y] = x;
        added.push_back(y);
      }
    }
    bool ok = equal(a->init, b->init, map, depth + 1) &&
              equal(a->body, b->body, map, depth + 1);
    for (Var y : added)
      map.erase(y);
    return ok;
  }
  }
  return false;
}

std::optional<double> ExprContext::evalConst(Node *n, int depth) {
  if (depth > 16)
    return std::nullopt;
  switch (n->kind) {
  case NodeKind::Const:
    return n->value;
  case NodeKind::View:
    if (Node *e = expand(n))
      return evalConst(e, depth + 1);
    return std::nullopt;
  case NodeKind::Op: {
    SmallVector<double> v;
    for (Node *o : n->operands) {
      std::optional<double> c = evalConst(o, depth + 1);
      if (!c)
        return std::nullopt;
      v.push_back(*c);
    }
    switch (n->opKind) {
    case OpKind::AddF:
    case OpKind::AddI:
      return v[0] + v[1];
    case OpKind::SubF:
    case OpKind::SubI:
      return v[0] - v[1];
    case OpKind::MulF:
    case OpKind::MulI:
      return v[0] * v[1];
    case OpKind::DivF:
      return v[0] / v[1];
    case OpKind::NegF:
      return -v[0];
    case OpKind::Sqrt:
      return std::sqrt(v[0]);
    case OpKind::Rsqrt:
      return 1.0 / std::sqrt(v[0]);
    case OpKind::ExtF:
    case OpKind::TruncF:
    case OpKind::IntCast:
      return v[0];
    default:
      return std::nullopt;
    }
  }
  default:
    return std::nullopt;
  }
}
