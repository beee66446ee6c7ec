//===- File.h - Read whole files --------------------------------*- C++ -*-===//

#ifndef FLASH_LIB_RUNTIME_FILE_H
#define FLASH_LIB_RUNTIME_FILE_H

#include "flash/Runtime/Runtime.h"

#include <string>

namespace flashrt {

/// Reads the file at `path` into `out`. Fails with FLASHRT_ERROR_IO and a
/// message naming `what` ("manifest", "PTX of kernel 'x'"), the path and the
/// system's reason.
flashrt_status readWholeFile(const std::string &path, const std::string &what,
                             std::string &out);

} // namespace flashrt

#endif // FLASH_LIB_RUNTIME_FILE_H
