//===- AttentionExpr.h - Index-space expressions for raising ----*- C++ -*-===//
//
// A small symbolic model of tensor programs used by flash-raise-attention.
//
// Every tensor element that the matcher looks at is described as a scalar
// expression over *index variables* (`Var`): a `View` node reads tensor `t`
// at an `Index`, which gives, for each axis of `t`, the list of variables
// whose row-major combination indexes that axis (an empty list for an axis of
// extent 1). Expanding a view replaces it by what its producer computes at
// that index: the body of a linalg op with block arguments replaced by views
// of its operands, a `Reduce` node for reduction loops, or a view of the
// source of a reshape or transpose. The matcher then recognises attention by
// its mathematics, whatever op boundaries, layouts and spellings the producer
// used.
//
// Reshapes may need a variable to be split (reading a collapsed [B*H, ...]
// tensor as [B, H, ...]): the context records the refinement and `resolve`
// rewrites every index in terms of the finest variables.
//
// AttentionExpr.cpp holds the variables, the nodes and the queries on them
// (free variables, equality up to renaming, constant folding);
// AttentionExprExpand.cpp the expansion of views from the ops that produce
// them.
//
//===----------------------------------------------------------------------===//

#ifndef FLASH_LIB_DIALECT_FLASH_TRANSFORMS_ATTENTIONEXPR_H
#define FLASH_LIB_DIALECT_FLASH_TRANSFORMS_ATTENTIONEXPR_H

#include "mlir/IR/Operation.h"
#include "mlir/IR/Value.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallVector.h"

#include <deque>
#include <optional>

namespace mlir::flash::raise {

using Var = unsigned;
using Group = SmallVector<Var, 2>;
using Index = SmallVector<Group, 4>;

enum class NodeKind { View, Const, ScalarLeaf, Op, Reduce, IndexOf };

enum class OpKind {
  AddF, SubF, MulF, DivF, MaxF, MinF, NegF, Exp, Sqrt, Rsqrt, Tanh,
  ExtF, TruncF, Select, CmpF, CmpI, AndI, OrI, XOrI, AddI, SubI, MulI,
  IntCast, Other
};

enum class ReduceKind { Add, Max };

struct Node {
  NodeKind kind;
  /// View: the tensor read and the index it is read at.
  Value tensor;
  Index index;
  /// Const: the value (floats, integers and booleans alike).
  double value = 0;
  /// ScalarLeaf: an opaque scalar.
  Value scalar;
  /// Op: the operation kind, its predicate for comparisons, and operands.
  OpKind opKind = OpKind::Other;
  int64_t predicate = 0;
  SmallVector<Node *, 3> operands;
  /// Reduce: the combiner, the reduced variables, the initial value and the
  /// reduced expression.
  ReduceKind reduceKind = ReduceKind::Add;
  Group vars;
  Node *init = nullptr, *body = nullptr;
  /// IndexOf: the variables whose row-major combination is the value.
  Group group;
  /// The op whose expansion created this node (Op and Reduce nodes).
  Operation *origin = nullptr;
  /// Memoized expansion of a View.
  Node *expanded = nullptr;
  bool expandTried = false;
};

/// Owns the nodes and variables of one match attempt.
class ExprContext {
public:
  Var newVar(int64_t extent);
  int64_t extent(Var v) const { return extents[v]; }
  /// Rewrites `g` in terms of the finest variables.
  Group resolve(ArrayRef<Var> g) const;
  Index resolve(const Index &idx) const;
  Group flatten(const Index &idx) const;

  Node *view(Value tensor, Index index);
  Node *constant(double value);
  Node *scalarLeaf(Value v);
  Node *op(OpKind kind, ArrayRef<Node *> operands, int64_t predicate = 0,
           Operation *origin = nullptr);
  Node *reduce(ReduceKind kind, Group vars, Node *init, Node *body,
               Operation *origin);
  Node *indexOf(Group g);

  /// What the producer of a View computes at its index, or null where the
  /// producer is opaque (a block argument, an unsupported op, a non-splat
  /// constant, a dynamic shape).
  Node *expand(Node *view);

  /// The variables a node depends on (free variables; reduced ones are
  /// bound). Does not expand views.
  void collectVars(Node *n, SmallVectorImpl<Var> &out);
  bool dependsOn(Node *n, Var v);

  /// Structural equality up to the variable renaming `map` (variables of
  /// `b` to variables of `a`); expands views as needed.
  bool equal(Node *a, Node *b, DenseMap<Var, Var> &map, int depth = 0);

  /// Folds a node made of constants to a number.
  std::optional<double> evalConst(Node *n, int depth = 0);

  /// Reads a tensor of static shape `shape` whose elements, in row-major
  /// order, are indexed by the variables `vars`: splits variables as needed
  /// so that each axis gets whole variables.
  bool splitVars(ArrayRef<Var> vars, ArrayRef<int64_t> shape, Index &out);

private:
  Node *make(NodeKind kind);
  Node *expandImpl(Node *view);
  Node *expandLinalg(Operation *op, const Index &idx);
  Node *expandTosa(Operation *op, const Index &idx);
  Node *translateOutside(Value v, int depth);
  std::pair<Var, Var> splitVar(Var v, int64_t outer, int64_t inner);

  std::deque<Node> nodes;
  SmallVector<int64_t> extents;
  DenseMap<Var, std::pair<Var, Var>> refinement;
};

/// Returns the scalar op kind of a body operation, or OpKind::Other.
OpKind classifyScalarOp(Operation *op, int64_t &predicate);

} // namespace mlir::flash::raise

#endif // FLASH_LIB_DIALECT_FLASH_TRANSFORMS_ATTENTIONEXPR_H
