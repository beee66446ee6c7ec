//===- RaiseMatcher.h - The matcher of flash-raise-attention ----*- C++ -*-===//
//
// The matcher that recognises one attention graph and rewrites it to
// flash.attention, and what its parts share: the match found so far, the
// masking steps met on the way to the scores, and linear forms over index
// variables. The methods are defined by purpose:
//
//   RaiseRecognisers.cpp  the softmax, exponential, row sum, scores and
//                         layout (which axes are batch, heads, lengths, dims)
//   RaiseMasks.cpp        mask terms, finite fills, linear forms and the
//                         constraints they give, constant mask patterns and
//                         the mask operand
//   RaiseAttention.cpp    the top level (match, the uses check), the rewrite
//                         (relayout, flash.attention, erasing what became
//                         dead) and the pass
//
//===----------------------------------------------------------------------===//

#ifndef FLASH_LIB_DIALECT_FLASH_TRANSFORMS_RAISEMATCHER_H
#define FLASH_LIB_DIALECT_FLASH_TRANSFORMS_RAISEMATCHER_H

#include "AttentionExpr.h"

#include "flash/Dialect/Flash/IR/FlashOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SetVector.h"

#include <cmath>
#include <optional>
#include <string>

namespace mlir::flash::raise {

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

  // Recognisers (RaiseRecognisers.cpp).
  Node *expandFull(Node *n);
  Node *stripCasts(Node *n);
  /// Whether a row maximum starts at or below every value it can see: -inf,
  /// or the lowest finite value of its element type. A higher start (say
  /// -1e4) changes the result where every score is below it.
  bool startsBelowEveryScore(Node *maxReduce);
  bool normalized(Node *n, Node *&num, Node *&den);
  bool matchProbabilities(Node *p, Node *v, Node *postDen);
  bool matchExponential(Node *e, Node *&scores);
  bool matchRowSum(Node *z, Node *e);
  bool matchScores(Node *s);
  bool addAdditiveTerm(Node *t, double scaleAbove);
  bool leadsToDot(Node *n, int depth = 0);
  Node *stripLeaf(Node *n, double *scale);
  bool resolveLayout();

  // Masks (RaiseMasks.cpp).
  bool resolveMasks();
  bool resolveFill();
  bool resolveCondition(Node *c, bool negate);
  bool addConstraint(Node *cmp, bool negate);
  bool linearForm(Node *n, Linear &out, int depth = 0);
  bool setMaskOperand(Node *view, bool isBool, bool negate);
  std::optional<bool> constantPattern(Node *view, bool isBool, bool negate);

  // The uses check and the rewrite (RaiseAttention.cpp).
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

} // namespace mlir::flash::raise

#endif // FLASH_LIB_DIALECT_FLASH_TRANSFORMS_RAISEMATCHER_H
