//===- KernelKind.cpp - Kernel kinds and features, by name ----------------===//

#include "flash/Conversion/FlashToGPU/KernelKind.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/Twine.h"

#include <iterator>

using namespace mlir;
using namespace mlir::flash;

namespace {

struct KindInfo {
  KernelKind kind;
  StringLiteral name;
  StringLiteral symbolPrefix;
};

/// One row per KernelKind.
constexpr KindInfo kKinds[] = {
    {KernelKind::Forward, "forward", "flash_fwd"},
    {KernelKind::Backward, "backward", "flash_bwd"},
    {KernelKind::Decode, "decode", "flash_dec"},
    {KernelKind::Combine, "combine", "flash_combine"},
};

const KindInfo &getKindInfo(KernelKind kind) {
  return *llvm::find_if(kKinds,
                        [&](const KindInfo &row) { return row.kind == kind; });
}

struct FeatureInfo {
  StringLiteral name;
  bool KernelFeatures::*flag;
};

/// Every feature, in manifest order.
constexpr FeatureInfo kFeatures[] = {
    {"block_sparse", &KernelFeatures::blockSparse},
    {"dropout", &KernelFeatures::dropout},
};

std::string listFeatureNames() {
  SmallVector<StringRef> names;
  for (const FeatureInfo &feature : kFeatures)
    names.push_back(feature.name);
  return llvm::join(names, ", ");
}

} // namespace

StringRef mlir::flash::stringifyKernelKind(KernelKind kind) {
  return getKindInfo(kind).name;
}

std::optional<KernelKind> mlir::flash::parseKernelKind(StringRef name) {
  const KindInfo *info = llvm::find_if(
      kKinds, [&](const KindInfo &row) { return row.name == name; });
  if (info == std::end(kKinds))
    return std::nullopt;
  return info->kind;
}

StringRef mlir::flash::getKernelSymbolPrefix(KernelKind kind) {
  return getKindInfo(kind).symbolPrefix;
}

std::string mlir::flash::describeKernelKindError(StringRef name) {
  SmallVector<StringRef> names;
  for (const KindInfo &info : kKinds)
    names.push_back(info.name);
  return (Twine("kind must be one of ") + llvm::join(names, ", ") + ", got '" +
          name + "'")
      .str();
}

SmallVector<StringRef> KernelFeatures::getNames() const {
  SmallVector<StringRef> names;
  for (const FeatureInfo &feature : kFeatures)
    if (this->*feature.flag)
      names.push_back(feature.name);
  return names;
}

llvm::Expected<KernelFeatures>
mlir::flash::parseKernelFeatures(ArrayRef<StringRef> names) {
  KernelFeatures features;
  SmallVector<std::string> unknown;
  for (StringRef name : names) {
    const FeatureInfo *found = llvm::find_if(
        kFeatures, [&](const FeatureInfo &f) { return f.name == name; });
    if (found == std::end(kFeatures))
      unknown.push_back(("'" + name + "'").str());
    else
      features.*(found->flag) = true;
  }
  if (!unknown.empty())
    return llvm::createStringError(
        Twine("unknown feature") + (unknown.size() > 1 ? "s " : " ") +
        llvm::join(unknown, ", ") + "; the features are " + listFeatureNames());
  return features;
}
