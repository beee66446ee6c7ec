//===- Library.cpp - Kernel libraries and kernel selection ----------------===//

#include "Library.h"
#include "Error.h"
#include "File.h"
#include "Spec.h"

#include <memory>

using namespace flashrt;

namespace {

/// The symbol of `spec`, with "*" for an ANY chip: flash_fwd_d64_f16_none_*.
std::string specPattern(const flashrt_spec &spec) {
  if (spec.chip != FLASHRT_CHIP_ANY)
    return specSymbol(spec);
  flashrt_spec withChip = spec;
  withChip.chip = FLASHRT_CHIP_SM_80;
  std::string symbol = specSymbol(withChip);
  return symbol.substr(0, symbol.size() - chipName(withChip.chip).size()) +
         "*";
}

bool sameProblem(const flashrt_spec &a, const flashrt_spec &b) {
  return a.kind == b.kind && a.head_dim == b.head_dim && a.dtype == b.dtype &&
         a.mask == b.mask && a.features == b.features;
}

} // namespace

flashrt_status flashrt::selectKernel(const std::vector<LibraryKernel> &kernels,
                                     const flashrt_spec &spec, int deviceChip,
                                     flashrt_selection &out) {
  FLASHRT_RETURN_IF_ERROR(checkSpec(spec, /*allowAnyChip=*/true, "spec"));
  if (!isValidChip(deviceChip) || deviceChip % 10 != 0)
    return fail(FLASHRT_ERROR_INVALID_ARGUMENT,
                "device chip " + std::to_string(deviceChip) +
                    " is not a compute capability (e.g. 900 for 9.0)");
  bool found = false, any = false;
  std::string seen;
  int bestChip = 0, bestImage = -1;
  for (size_t i = 0, e = kernels.size(); i != e; ++i) {
    const LibraryKernel &kernel = kernels[i];
    const flashrt_spec &kspec = kernel.info.spec;
    if (!sameProblem(kspec, spec) ||
        (spec.chip != FLASHRT_CHIP_ANY && kspec.chip != spec.chip))
      continue;
    seen += (any ? ", " : "") + kernel.name;
    any = true;
    int image = -1;
    if (!kernel.cubinPath.empty() && chipRuns(deviceChip, kspec.chip, false))
      image = FLASHRT_IMAGE_CUBIN;
    else if (!kernel.ptxPath.empty() && chipRuns(deviceChip, kspec.chip, true))
      image = FLASHRT_IMAGE_PTX;
    if (image < 0)
      continue;
    if (!found || kspec.chip > bestChip ||
        (kspec.chip == bestChip && image > bestImage)) {
      found = true;
      bestChip = kspec.chip;
      bestImage = image;
      out.index = i;
      out.image = image;
    }
  }
  if (found)
    return FLASHRT_SUCCESS;
  if (!any)
    return fail(FLASHRT_ERROR_NO_KERNEL,
                "no kernel matches " + specPattern(spec) + " in the library");
  return fail(FLASHRT_ERROR_NO_KERNEL,
              "no kernel matching " + specPattern(spec) + " runs on an " +
                  chipName(deviceChip) + " device; the library has " + seen);
}

//===----------------------------------------------------------------------===//
// C API
//===----------------------------------------------------------------------===//

extern "C" flashrt_status flashrt_library_parse(const char *json, size_t size,
                                                const char *dir,
                                                flashrt_library **out) {
  return guarded([&] {
    if (!out)
      return fail(FLASHRT_ERROR_INVALID_ARGUMENT, "out is null");
    *out = nullptr;
    if (!json)
      return fail(FLASHRT_ERROR_INVALID_ARGUMENT, "json is null");
    auto lib = std::make_unique<flashrt_library>();
    FLASHRT_RETURN_IF_ERROR(parseManifest(std::string_view(json, size),
                                          "manifest", dir ? dir : "",
                                          lib->kernels));
    *out = lib.release();
    return FLASHRT_SUCCESS;
  });
}

extern "C" flashrt_status flashrt_library_open(const char *dir,
                                               flashrt_library **out) {
  return guarded([&] {
    if (!out)
      return fail(FLASHRT_ERROR_INVALID_ARGUMENT, "out is null");
    *out = nullptr;
    if (!dir || !*dir)
      return fail(FLASHRT_ERROR_INVALID_ARGUMENT, "dir is null or empty");
    std::string path = std::string(dir) + "/manifest.json";
    std::string text;
    FLASHRT_RETURN_IF_ERROR(readWholeFile(path, "manifest", text));
    auto lib = std::make_unique<flashrt_library>();
    FLASHRT_RETURN_IF_ERROR(parseManifest(text, path, dir, lib->kernels));
    *out = lib.release();
    return FLASHRT_SUCCESS;
  });
}

extern "C" void flashrt_library_destroy(flashrt_library *lib) { delete lib; }

extern "C" size_t flashrt_library_size(const flashrt_library *lib) {
  return lib ? lib->kernels.size() : 0;
}

extern "C" flashrt_status flashrt_library_info(const flashrt_library *lib,
                                               size_t index,
                                               flashrt_kernel_info *out) {
  return guarded([&] {
    if (!lib || !out)
      return fail(FLASHRT_ERROR_INVALID_ARGUMENT, "lib or out is null");
    if (index >= lib->kernels.size())
      return fail(FLASHRT_ERROR_INVALID_ARGUMENT,
                  "kernel index " + std::to_string(index) +
                      " is out of range; the library has " +
                      std::to_string(lib->kernels.size()) + " kernels");
    *out = lib->kernels[index].infoWithName();
    return FLASHRT_SUCCESS;
  });
}

extern "C" int flashrt_library_has_ptx(const flashrt_library *lib,
                                       size_t index) {
  return lib && index < lib->kernels.size() &&
         !lib->kernels[index].ptxPath.empty();
}

extern "C" int flashrt_library_has_cubin(const flashrt_library *lib,
                                         size_t index) {
  return lib && index < lib->kernels.size() &&
         !lib->kernels[index].cubinPath.empty();
}

extern "C" flashrt_status flashrt_library_select(const flashrt_library *lib,
                                                 const flashrt_spec *spec,
                                                 int deviceChip,
                                                 flashrt_selection *out) {
  return guarded([&] {
    if (!lib || !spec || !out)
      return fail(FLASHRT_ERROR_INVALID_ARGUMENT, "lib, spec or out is null");
    return selectKernel(lib->kernels, *spec, deviceChip, *out);
  });
}
