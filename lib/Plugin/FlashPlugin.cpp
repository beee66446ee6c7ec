//===- FlashPlugin.cpp - flash-mlir as an mlir-opt plugin -----------------===//
//
// A loadable module for an mlir-opt that links libMLIR.so (LLVM 22's own
// mlir-opt does):
//
//   mlir-opt --load-dialect-plugin=FlashPlugin.so \
//            --load-pass-plugin=FlashPlugin.so ...
//
// The module links libMLIR.so too, so the dialect and passes land in the
// registries of the hosting tool rather than in a private copy of MLIR.
//
//===----------------------------------------------------------------------===//

#include "flash/InitFlash.h"

#include "mlir/Tools/Plugins/DialectPlugin.h"
#include "mlir/Tools/Plugins/PassPlugin.h"

using namespace mlir;

namespace {
constexpr const char *kPluginName = "FlashMLIR";
constexpr const char *kPluginVersion = FLASH_MLIR_VERSION_STRING;
} // namespace

/// Entry point of --load-dialect-plugin: adds the flash dialect to the tool's
/// registry.
extern "C" DialectPluginLibraryInfo mlirGetDialectPluginInfo() {
  return {MLIR_PLUGIN_API_VERSION, kPluginName, kPluginVersion,
          [](DialectRegistry *registry) {
            flash::registerFlashDialects(*registry);
          }};
}

/// Entry point of --load-pass-plugin: registers every flash pass and named
/// pipeline with the global pass registry.
extern "C" PassPluginLibraryInfo mlirGetPassPluginInfo() {
  return {MLIR_PLUGIN_API_VERSION, kPluginName, kPluginVersion,
          []() { flash::registerFlashPassesAndPipelines(); }};
}
