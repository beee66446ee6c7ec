//===- Library.h - Kernel libraries written by flash-aot --------*- C++ -*-===//
//
// A library is the parsed manifest.json of a flash-aot directory: one entry
// per kernel with its info and the paths of its PTX and cubin files.
//
//===----------------------------------------------------------------------===//

#ifndef FLASH_LIB_RUNTIME_LIBRARY_H
#define FLASH_LIB_RUNTIME_LIBRARY_H

#include "flash/Runtime/Runtime.h"

#include <string>
#include <string_view>
#include <vector>

namespace flashrt {

struct LibraryKernel {
  std::string name;
  /// Everything but `name`, which is null here; see `infoWithName`.
  flashrt_kernel_info info{};
  /// Absolute or relative to the working directory; empty when absent.
  std::string ptxPath;
  std::string cubinPath;

  flashrt_kernel_info infoWithName() const {
    flashrt_kernel_info result = info;
    result.name = name.c_str();
    return result;
  }
};

/// Parses manifest text. `source` names it in messages (usually the path of
/// manifest.json); relative file names are resolved against `dir`.
flashrt_status parseManifest(std::string_view text, const std::string &source,
                             const std::string &dir,
                             std::vector<LibraryKernel> &out);

/// Chooses a kernel for `spec` on a device of chip `deviceChip`; see
/// flashrt_library_select.
flashrt_status selectKernel(const std::vector<LibraryKernel> &kernels,
                            const flashrt_spec &spec, int deviceChip,
                            flashrt_selection &out);

} // namespace flashrt

struct flashrt_library {
  std::vector<flashrt::LibraryKernel> kernels;
};

#endif // FLASH_LIB_RUNTIME_LIBRARY_H
