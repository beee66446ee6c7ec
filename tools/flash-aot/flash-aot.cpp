//===- flash-aot.cpp - Generate attention kernel libraries ahead of time --===//
//
// flash-aot --head-dim=64,128 --dtype=f16,bf16 --mask=none,causal
//           --block-sparse=no,yes --chip=CHIP,... -o DIR
// flash-aot model.mlir --chip=CHIP -o DIR
// flash-aot --list-chips
//
// writes one PTX file per kernel, a cubin next to it when ptxas is found,
// and DIR/manifest.json describing every kernel (docs/kernel-abi.md). Given
// an MLIR file, the kernels are those its attention needs: the forward
// kernels of its flash.attention ops (naive softmax(QKᵀ)V graphs are raised
// into flash.attention first) and the backward kernels of its
// flash.attention_grad ops. The chips are those of the chip table
// (Chip.cpp), which --list-chips prints.
//
//===----------------------------------------------------------------------===//

#include "flash/Conversion/FlashToGPU/BackwardKernel.h"
#include "flash/Conversion/FlashToGPU/Chip.h"
#include "flash/Conversion/FlashToGPU/FlashToGPU.h"
#include "flash/Conversion/FlashToGPU/KernelPlan.h"
#include "flash/Conversion/Passes.h"
#include "flash/Dialect/Flash/IR/FlashDialect.h"
#include "flash/Pipelines/KernelCompiler.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/SourceMgr.h"
#include "flash/InitFlash.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <csignal>
#include <set>

using namespace mlir;
using namespace mlir::flash;
namespace cl = llvm::cl;

static cl::OptionCategory aotCategory("flash-aot options");

static cl::opt<std::string> inputFile(cl::Positional, cl::desc("[model.mlir]"),
                                      cl::cat(aotCategory), cl::init(""));
static cl::list<int64_t>
    headDims("head-dim", cl::CommaSeparated,
             cl::desc("Head dims (multiples of 8 up to "
                      "256; default 32,64,96,128,192,256)"),
             cl::cat(aotCategory));
static cl::list<std::string> dtypes("dtype", cl::CommaSeparated,
                                    cl::desc("Element types: f16, bf16"),
                                    cl::cat(aotCategory));
static cl::list<std::string> masks(
    "mask", cl::CommaSeparated,
    cl::desc("Mask kinds: none, causal, causal_bottom_right, sliding_window"),
    cl::cat(aotCategory));
static cl::list<std::string> blockSparse(
    "block-sparse", cl::CommaSeparated,
    cl::desc("Dense and/or block-sparse kernels: no, yes (default no,yes)"),
    cl::cat(aotCategory));
static cl::list<std::string> dropout(
    "dropout", cl::CommaSeparated,
    cl::desc("Kernels without and/or with attention dropout: no, yes "
             "(default no,yes; dropout with block-sparse layouts is not "
             "generated)"),
    cl::cat(aotCategory));
/// "Chips: sm_80, ... (default sm_80, ...)", from the chip table.
static cl::list<std::string>
    directions("direction", cl::CommaSeparated,
               cl::desc("Forward and/or backward kernels: fwd, bwd "
                        "(default fwd,bwd). For a model file, by default "
                        "those of its ops: the forward of flash.attention, "
                        "the backward of flash.attention_grad; fwd keeps "
                        "the former, bwd the latter and adds the backward "
                        "of flash.attention"),
               cl::cat(aotCategory));
static const std::string chipsHelp =
    "Chips: " + listChips() + " (default " +
    listChips([](const ChipInfo &info) { return info.inDefaultLibrary; }) +
    ")";
static cl::list<std::string> chips("chip", cl::CommaSeparated,
                                   cl::desc(chipsHelp), cl::cat(aotCategory));
static cl::opt<bool> listChipTable(
    "list-chips",
    cl::desc("Print the chip table (name, runtime code, shared memory per "
             "CTA, warpgroup MMAs, in the default library) and exit"),
    cl::cat(aotCategory));
// Schedule overrides, for measuring plans other than the table's: passed
// through as the options of convert-flash-to-gpu of the same names, which
// check them (docs/FlashConversionPasses.md).
static cl::opt<std::string>
    ctaQOverride("cta-q",
                 cl::desc("Plan override: query rows one CTA computes"),
                 cl::value_desc("n"), cl::cat(aotCategory));
static cl::opt<std::string>
    warpsOverride("warps", cl::desc("Plan override: warps per CTA"),
                  cl::value_desc("n"), cl::cat(aotCategory));
static cl::opt<std::string>
    ctaKVOverride("cta-kv",
                  cl::desc("Plan override: keys per streamed K/V tile"),
                  cl::value_desc("n"), cl::cat(aotCategory));
static cl::opt<std::string>
    stagesOverride("stages",
                   cl::desc("Plan override: cp.async stages for K and V "
                            "(2 to 4; block-sparse kernels take 2)"),
                   cl::value_desc("n"), cl::cat(aotCategory));
static cl::opt<std::string> minCTAsPerSMOverride(
    "min-ctas-per-sm",
    cl::desc("Plan override: CTAs that should share an SM (the register "
             "budget ptxas keeps to; 1 leaves it free)"),
    cl::value_desc("n"), cl::cat(aotCategory));
static cl::opt<std::string> warpgroupMMAOverride(
    "warpgroup-mma",
    cl::desc("Plan override: Hopper warpgroup MMAs, on the chips that have "
             "them"),
    cl::value_desc("yes|no"), cl::cat(aotCategory));
static cl::opt<std::string> queryInRegistersOverride(
    "query-in-registers",
    cl::desc("Plan override: keep Q fragments in registers"),
    cl::value_desc("yes|no"), cl::cat(aotCategory));
static cl::opt<std::string> scoresBeforeCopiesOverride(
    "scores-before-copies",
    cl::desc("Plan override: issue each tile's Q K^T before the next "
             "tile's copies (warpgroup MMAs only)"),
    cl::value_desc("yes|no"), cl::cat(aotCategory));
static cl::opt<std::string> copyPointersOverride(
    "copy-pointers",
    cl::desc("Plan override: address the K and V copies by pointers "
             "advanced per tile"),
    cl::value_desc("yes|no"), cl::cat(aotCategory));
static cl::opt<std::string> *const planOverrides[] = {
    &ctaQOverride,             &warpsOverride,
    &ctaKVOverride,            &stagesOverride,
    &minCTAsPerSMOverride,     &warpgroupMMAOverride,
    &queryInRegistersOverride, &scoresBeforeCopiesOverride,
    &copyPointersOverride};

static cl::opt<std::string> outputDir("o",
                                      cl::desc("Output directory (required "
                                               "but with --list-chips)"),
                                      cl::cat(aotCategory),
                                      cl::value_desc("dir"));
static cl::opt<std::string>
    ptxasPath("ptxas",
              cl::desc("ptxas to build cubins with (default: found on PATH "
                       "or in /usr/local/cuda/bin; 'none' to skip)"),
              cl::cat(aotCategory));

namespace {

/// The directions of --direction: both when it is not given.
struct Directions {
  bool forward = true;
  bool backward = true;
  /// Whether --direction was given. For a model, the backward kernels of
  /// its flash.attention ops are generated only when it names bwd.
  bool given = false;
};

/// The kernels to write, each once, in manifest order: forward, then
/// backward.
class KernelRequest {
public:
  void addForward(const PlannedKernel &kernel) {
    if (seen.insert(kernel.spec.getName()).second)
      forward.push_back(kernel);
  }
  void addBackward(const PlannedBackward &kernels) {
    if (seen.insert(kernels.spec.getName()).second)
      backward.push_back(kernels);
  }
  /// The backward kernels of the forward spec `spec`, when the backward
  /// kernels cover it; otherwise a note, once per reason.
  void addBackwardOf(KernelSpec spec) {
    spec.kind = KernelKind::Backward;
    llvm::Expected<BackwardPlan> plan = planBackwardKernel(spec);
    if (plan) {
      addBackward({spec, *plan});
      return;
    }
    // Not generated yet (D > 128, block-sparse).
    std::string reason = llvm::toString(plan.takeError());
    if (skippedBackward.insert(reason).second)
      llvm::errs() << "flash-aot: note: " << reason
                   << "; those specs get forward kernels only\n";
  }
  bool empty() const { return forward.empty() && backward.empty(); }

  SmallVector<PlannedKernel> forward;
  SmallVector<PlannedBackward> backward;

private:
  std::set<std::string> seen, skippedBackward;
};

/// Adds to `request` the kernels that the attention in `path` needs on
/// `chips` in the directions `wanted`, after raising naive attention graphs:
/// the forward kernels of its flash.attention ops, planned with `options` as
/// convert-flash-to-gpu plans them, and the backward kernels of its
/// flash.attention_grad ops (and of its flash.attention ops when
/// --direction names bwd). Ops without GPU kernels are reported; fails
/// when no kernel is left.
LogicalResult collectModelKernels(MLIRContext &ctx, StringRef path,
                                  ArrayRef<Chip> chips,
                                  const ConvertFlashToGPUOptions &options,
                                  const Directions &wanted,
                                  KernelRequest &request) {
  ctx.getOrLoadDialect<FlashDialect>();
  llvm::SourceMgr sourceMgr;
  SourceMgrDiagnosticHandler diagnostics(sourceMgr, &ctx);
  OwningOpRef<ModuleOp> module =
      parseSourceFile<ModuleOp>(path, sourceMgr, &ctx);
  if (!module)
    return failure();
  PassManager pm(&ctx);
  pm.addNestedPass<func::FuncOp>(createFlashRaiseAttention());
  if (failed(pm.run(*module)))
    return failure();
  bool any = false, refused = false, invalidPlan = false;
  bool forwardGradients = wanted.given && wanted.backward;
  for (Chip chip : chips) {
    module->walk([&](AttentionOp op) {
      any = true;
      if (!wanted.forward && !forwardGradients)
        return;
      std::string reason;
      FailureOr<PlannedKernel> kernel =
          planAttentionKernel(op, chip, options, reason);
      if (failed(kernel)) {
        if (reason.empty())
          invalidPlan = true;
        else
          op.emitWarning() << "no GPU kernel for this attention: " << reason;
        refused = true;
        return;
      }
      if (wanted.forward)
        request.addForward(*kernel);
      if (forwardGradients)
        request.addBackwardOf(kernel->spec);
    });
    module->walk([&](AttentionGradOp op) {
      any = true;
      if (!wanted.backward)
        return;
      std::string reason;
      FailureOr<PlannedBackward> kernels =
          planAttentionGradKernels(op, chip, reason);
      if (failed(kernels)) {
        op.emitWarning() << "no GPU kernels for this attention gradient: "
                         << reason;
        refused = true;
        return;
      }
      request.addBackward(*kernels);
    });
  }
  if (!any)
    llvm::errs() << "flash-aot: no attention found in '" << path
                 << "' (neither flash.attention, flash.attention_grad nor a "
                    "naive graph that flash-raise-attention recognizes)\n";
  else if (request.empty() && !refused)
    llvm::errs() << "flash-aot: the attention in '" << path
                 << "' needs no kernel of the directions that --direction "
                    "names\n";
  return failure(invalidPlan || request.empty());
}

/// The directions that --direction names; an error for another value.
FailureOr<Directions> parseDirections() {
  Directions result;
  if (directions.empty())
    return result;
  result = {/*forward=*/false, /*backward=*/false, /*given=*/true};
  for (const std::string &value : directions) {
    if (value != "fwd" && value != "bwd") {
      llvm::errs() << "flash-aot: --direction takes fwd and/or bwd, got '"
                   << value << "'\n";
      return failure();
    }
    result.forward |= value == "fwd";
    result.backward |= value == "bwd";
  }
  return result;
}

/// The plan overrides given, as convert-flash-to-gpu's options.
llvm::Expected<ConvertFlashToGPUOptions> getPlanOptions() {
  std::string text;
  for (const cl::opt<std::string> *option : planOverrides)
    if (option->getNumOccurrences())
      text += (option->ArgStr + "=" + *option + " ").str();
  return parseConvertFlashToGPUOptions(StringRef(text).rtrim());
}

std::string findPtxas() {
  if (ptxasPath == "none")
    return "";
  if (!ptxasPath.empty())
    return ptxasPath;
  if (llvm::ErrorOr<std::string> found = llvm::sys::findProgramByName("ptxas"))
    return *found;
  if (llvm::sys::fs::can_execute("/usr/local/cuda/bin/ptxas"))
    return "/usr/local/cuda/bin/ptxas";
  return "";
}

/// Assembles `ptxFile` into `cubinFile`; returns the ptxas diagnostics.
bool assemble(StringRef ptxas, Chip chip, StringRef ptxFile,
              StringRef cubinFile, std::string &message) {
  std::string arch = ("-arch=" + stringifyChip(chip)).str();
  SmallVector<StringRef> args = {ptxas, arch, "-O3", ptxFile, "-o", cubinFile};
  int rc = llvm::sys::ExecuteAndWait(ptxas, args, std::nullopt, {}, 0, 0,
                                     &message);
  return rc == 0;
}

/// Reports the first value that `list` holds twice, as "flash-aot:
/// --OPTION lists VALUE twice": it would make a second manifest entry for
/// the same kernels, which the runtime rejects.
template <typename T>
bool checkNoDuplicates(StringRef option, const cl::list<T> &list) {
  SmallVector<T> values(list.begin(), list.end());
  for (auto [i, value] : llvm::enumerate(values)) {
    if (!llvm::is_contained(ArrayRef(values).take_front(i), value))
      continue;
    llvm::errs() << "flash-aot: --" << option << " lists " << value
                 << " twice\n";
    return false;
  }
  return true;
}

/// A file of the output: written under a temporary name in its directory
/// and renamed to `path` once complete (`keep`), so that `path` is never
/// partly written, whatever fails (a full disk, a file size limit); the
/// temporary file is removed otherwise, and on a signal.
class OutputFile {
public:
  /// Creates the temporary file; the error names `path`.
  static llvm::Expected<OutputFile> create(StringRef path) {
    llvm::Expected<llvm::sys::fs::TempFile> temp =
        llvm::sys::fs::TempFile::create(path + ".tmp-%%%%%%");
    if (!temp)
      return llvm::createFileError(path, temp.takeError());
    return OutputFile(
        path, std::make_unique<llvm::sys::fs::TempFile>(std::move(*temp)));
  }
  OutputFile(OutputFile &&) = default;
  ~OutputFile() {
    if (temp)
      llvm::consumeError(temp->discard());
  }

  /// The temporary file's name, for a program that writes it (ptxas).
  StringRef getTempPath() const { return temp->TmpName; }

  /// Writes `contents` to the temporary file; a write error is returned,
  /// not left to abort the program when the stream is destroyed.
  llvm::Error write(StringRef contents) {
    llvm::raw_fd_ostream os(temp->FD, /*shouldClose=*/false);
    os << contents;
    os.flush();
    if (!os.has_error())
      return llvm::Error::success();
    std::error_code ec = os.error();
    os.clear_error();
    return llvm::createFileError(path, ec);
  }

  /// Renames the temporary file to the path.
  llvm::Error keep() {
    if (llvm::Error err = temp->keep(path))
      return llvm::createFileError(path, std::move(err));
    return llvm::Error::success();
  }

private:
  OutputFile(StringRef path, std::unique_ptr<llvm::sys::fs::TempFile> temp)
      : path(path.str()), temp(std::move(temp)) {}

  std::string path;
  /// Null once moved from.
  std::unique_ptr<llvm::sys::fs::TempFile> temp;
};

/// Writes `contents` to `path` through an OutputFile.
llvm::Error writeOutputFile(StringRef path, StringRef contents) {
  llvm::Expected<OutputFile> file = OutputFile::create(path);
  if (!file)
    return file.takeError();
  if (llvm::Error err = file->write(contents))
    return err;
  return file->keep();
}

/// Reports a failed write of `llvm::outs()` (e.g. to a full disk) as an
/// error instead of leaving it to abort the program at exit.
int finishStdout(int rc) {
  llvm::outs().flush();
  if (!llvm::outs().has_error())
    return rc;
  llvm::errs() << "flash-aot: cannot write to the standard output: "
               << llvm::outs().error().message() << "\n";
  llvm::outs().clear_error();
  return 1;
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
#ifdef SIGXFSZ
  // A write past the file size limit (ulimit -f) then fails with EFBIG and
  // is reported as a full disk is, instead of raising SIGXFSZ, which LLVM's
  // handlers turn into a crash report.
  std::signal(SIGXFSZ, SIG_IGN);
#endif
  // The linked LLVM backends register hundreds of options; --help shows ours.
  cl::HideUnrelatedOptions(aotCategory);
  cl::ParseCommandLineOptions(
      argc, argv,
      "flash-aot: generate FlashAttention kernels as PTX (and cubins) for "
      "the given head dims, element types, masks and chips\n");
  if (listChipTable) {
    for (const ChipInfo &info : getChipTable())
      llvm::outs() << llvm::formatv("{0} {1} {2} {3} {4}\n", info.name,
                                    info.runtimeCode, info.maxSharedMemoryBytes,
                                    info.warpgroupMMA ? "wgmma" : "mma.sync",
                                    info.inDefaultLibrary ? "default" : "-");
    return finishStdout(0);
  }
  if (outputDir.empty()) {
    llvm::errs() << "flash-aot: -o DIR is required\n";
    return 1;
  }
  if (!checkNoDuplicates("head-dim", headDims) ||
      !checkNoDuplicates("dtype", dtypes) ||
      !checkNoDuplicates("mask", masks) ||
      !checkNoDuplicates("block-sparse", blockSparse) ||
      !checkNoDuplicates("dropout", dropout) ||
      !checkNoDuplicates("direction", directions) ||
      !checkNoDuplicates("chip", chips))
    return 1;
  SmallVector<Chip> targets;
  for (const std::string &name : chips) {
    std::optional<Chip> chip = parseChip(name);
    if (!chip) {
      llvm::errs() << "flash-aot: " << describeChipError(name) << "\n";
      return 1;
    }
    targets.push_back(*chip);
  }
  if (targets.empty())
    for (const ChipInfo &info : getChipTable())
      if (info.inDefaultLibrary)
        targets.push_back(info.chip);
  llvm::Expected<ConvertFlashToGPUOptions> options = getPlanOptions();
  if (!options) {
    llvm::errs() << "flash-aot: " << llvm::toString(options.takeError())
                 << "\n";
    return 1;
  }

  FailureOr<Directions> wanted = parseDirections();
  if (failed(wanted))
    return 1;

  std::unique_ptr<MLIRContext> ctx = createKernelCompilerContext();
  KernelRequest request;
  if (!inputFile.empty()) {
    // The model says which head dims, dtypes and masks it needs.
    if (!headDims.empty() || !dtypes.empty() || !masks.empty() ||
        !blockSparse.empty() || !dropout.empty()) {
      llvm::errs() << "flash-aot: --head-dim, --dtype, --mask, "
                      "--block-sparse and --dropout do not apply to a model: "
                      "its attention decides them\n";
      return 1;
    }
    if (failed(collectModelKernels(*ctx, inputFile, targets, *options, *wanted,
                                   request)))
      return 1;
  } else {
    SmallVector<int64_t> dims(headDims.begin(), headDims.end());
    if (dims.empty())
      dims = {32, 64, 96, 128, 192, 256};
    SmallVector<std::string> types(dtypes.begin(), dtypes.end());
    if (types.empty())
      types = {"f16", "bf16"};
    SmallVector<std::string> maskNames(masks.begin(), masks.end());
    if (maskNames.empty())
      maskNames = {"none", "causal", "causal_bottom_right", "sliding_window"};
    // The features of each kernel: --block-sparse=yes adds block_sparse,
    // --dropout=yes dropout; not both, which are not generated together.
    // The default library has what the Python package can launch: dense
    // and block-sparse kernels, and dense kernels with dropout.
    auto parseYesNo = [](StringRef option, const cl::list<std::string> &list,
                         SmallVectorImpl<bool> &values) {
      for (const std::string &value : list) {
        if (value != "no" && value != "yes") {
          llvm::errs() << "flash-aot: --" << option
                       << " takes no and/or yes, got '" << value << "'\n";
          return false;
        }
        values.push_back(value == "yes");
      }
      if (list.empty())
        values.assign({false, true});
      return true;
    };
    SmallVector<bool, 2> sparseValues, dropoutValues;
    if (!parseYesNo("block-sparse", blockSparse, sparseValues) ||
        !parseYesNo("dropout", dropout, dropoutValues))
      return 1;
    SmallVector<SmallVector<StringRef, 2>> featureSets;
    for (bool sparse : sparseValues)
      for (bool drop : dropoutValues) {
        if (sparse && drop)
          continue;
        SmallVector<StringRef, 2> features;
        if (sparse)
          features.push_back("block_sparse");
        if (drop)
          features.push_back("dropout");
        featureSets.push_back(features);
      }
    if (featureSets.empty()) {
      llvm::errs() << "flash-aot: --block-sparse=yes with --dropout=yes "
                      "selects no kernels: dropout with block-sparse layouts "
                      "is not generated yet\n";
      return 1;
    }
    // Check the whole request before generating anything.
    for (Chip chip : targets)
      for (ArrayRef<StringRef> features : featureSets)
        for (const std::string &type : types)
          for (const std::string &maskName : maskNames)
            for (int64_t dim : dims) {
              llvm::Expected<KernelSpec> spec =
                  parseKernelSpec("forward", dim, type, maskName, features,
                                  stringifyChip(chip));
              if (!spec) {
                llvm::errs() << "flash-aot: "
                             << llvm::toString(spec.takeError()) << "\n";
                return 1;
              }
              llvm::Expected<KernelPlan> plan = planKernel(*spec, *options);
              if (!plan) {
                llvm::errs() << "flash-aot: "
                             << llvm::toString(plan.takeError()) << "\n";
                return 1;
              }
              if (wanted->forward)
                request.addForward({*spec, *plan});
              if (wanted->backward)
                request.addBackwardOf(*spec);
            }
  }

  if (std::error_code ec = llvm::sys::fs::create_directories(outputDir)) {
    llvm::errs() << "flash-aot: cannot create '" << outputDir
                 << "': " << ec.message() << "\n";
    return 1;
  }
  // The manifest is written last: a run that fails leaves none, not one
  // that lists more than was written. A manifest of an earlier run goes
  // first, since its entries could describe files this run replaces.
  SmallString<256> manifestFile(outputDir);
  llvm::sys::path::append(manifestFile, "manifest.json");
  if (std::error_code ec = llvm::sys::fs::remove(manifestFile)) {
    llvm::errs() << "flash-aot: cannot remove the earlier '" << manifestFile
                 << "': " << ec.message() << "\n";
    return 1;
  }

  std::string ptxas = findPtxas();
  auto start = std::chrono::steady_clock::now();
  llvm::json::Array entries;
  auto writePTX = [&](StringRef name, StringRef ptx, Chip chip,
                      llvm::json::Object &entry) {
    auto reportError = [](llvm::Error err) {
      llvm::errs() << "flash-aot: cannot write "
                   << llvm::toString(std::move(err)) << "\n";
      return false;
    };
    SmallString<256> ptxFile(outputDir);
    llvm::sys::path::append(ptxFile, name + ".ptx");
    if (llvm::Error err = writeOutputFile(ptxFile, ptx))
      return reportError(std::move(err));
    entry["ptx"] = (name + ".ptx").str();
    if (ptxas.empty())
      return true;
    SmallString<256> cubinFile(outputDir);
    llvm::sys::path::append(cubinFile, name + ".cubin");
    llvm::Expected<OutputFile> cubin = OutputFile::create(cubinFile);
    if (!cubin)
      return reportError(cubin.takeError());
    std::string message;
    if (!assemble(ptxas, chip, ptxFile, cubin->getTempPath(), message)) {
      llvm::errs() << "flash-aot: ptxas rejected " << name << ": " << message
                   << "\n";
      return false;
    }
    if (llvm::Error err = cubin->keep())
      return reportError(std::move(err));
    entry["cubin"] = (name + ".cubin").str();
    return true;
  };
  for (const PlannedKernel &planned : request.forward) {
    llvm::Expected<CompiledKernel> kernel =
        compileForwardKernel(*ctx, planned);
    if (!kernel) {
      llvm::errs() << "flash-aot: " << llvm::toString(kernel.takeError())
                   << "\n";
      return 1;
    }
    llvm::json::Object entry = describeKernel(*kernel);
    if (!writePTX(kernel->name, kernel->ptx, planned.spec.chip, entry))
      return 1;
    entries.push_back(std::move(entry));
  }
  for (const PlannedBackward &planned : request.backward) {
    llvm::Expected<CompiledBackward> kernel =
        compileBackwardKernels(*ctx, planned.spec, planned.plan);
    if (!kernel) {
      llvm::errs() << "flash-aot: " << llvm::toString(kernel.takeError())
                   << "\n";
      return 1;
    }
    llvm::json::Object entry = describeBackwardKernels(*kernel);
    if (!writePTX(kernel->name, kernel->ptx, planned.spec.chip, entry))
      return 1;
    entries.push_back(std::move(entry));
  }
  size_t written = entries.size();
  double seconds = std::chrono::duration<double>(
                       std::chrono::steady_clock::now() - start)
                       .count();

  std::string manifest = llvm::formatv(
      "{0:2}\n",
      llvm::json::Value(llvm::json::Object{{"version", kManifestVersion},
                                           {"kernels", std::move(entries)}}));
  if (llvm::Error err = writeOutputFile(manifestFile, manifest)) {
    llvm::errs() << "flash-aot: cannot write " << llvm::toString(std::move(err))
                 << "\n";
    return 1;
  }
  llvm::outs() << llvm::formatv("flash-aot: wrote {0} kernels to {1} in "
                                "{2:f2} s ({3})\n",
                                written, outputDir, seconds,
                                !ptxas.empty()        ? "PTX and cubins"
                                : ptxasPath == "none" ? "PTX only"
                                : "PTX only: ptxas not found; CUDA's "
                                  "ptxas on the PATH or --ptxas=PATH gives "
                                  "cubins too");
  return finishStdout(0);
}
