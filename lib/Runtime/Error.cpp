//===- Error.cpp - Per-thread error state of the runtime ------------------===//

#include "Error.h"

#include <utility>

namespace {
thread_local std::string lastError;
} // namespace

flashrt_status flashrt::fail(flashrt_status code, std::string message) {
  lastError = std::move(message);
  return code;
}

void flashrt::clearError() { lastError.clear(); }

extern "C" const char *flashrt_last_error(void) { return lastError.c_str(); }

extern "C" const char *flashrt_status_name(flashrt_status status) {
  switch (status) {
  case FLASHRT_SUCCESS:
    return "SUCCESS";
  case FLASHRT_ERROR_INVALID_ARGUMENT:
    return "INVALID_ARGUMENT";
  case FLASHRT_ERROR_OUT_OF_MEMORY:
    return "OUT_OF_MEMORY";
  case FLASHRT_ERROR_DRIVER_NOT_FOUND:
    return "DRIVER_NOT_FOUND";
  case FLASHRT_ERROR_DRIVER_SYMBOL:
    return "DRIVER_SYMBOL";
  case FLASHRT_ERROR_CUDA:
    return "CUDA";
  case FLASHRT_ERROR_IO:
    return "IO";
  case FLASHRT_ERROR_MANIFEST:
    return "MANIFEST";
  case FLASHRT_ERROR_NO_KERNEL:
    return "NO_KERNEL";
  case FLASHRT_ERROR_UNSUPPORTED:
    return "UNSUPPORTED";
  case FLASHRT_ERROR_TENSOR_NULL:
    return "TENSOR_NULL";
  case FLASHRT_ERROR_TENSOR_RANK:
    return "TENSOR_RANK";
  case FLASHRT_ERROR_TENSOR_SHAPE:
    return "TENSOR_SHAPE";
  case FLASHRT_ERROR_TENSOR_DTYPE:
    return "TENSOR_DTYPE";
  case FLASHRT_ERROR_TENSOR_STRIDE:
    return "TENSOR_STRIDE";
  case FLASHRT_ERROR_TENSOR_ALIGNMENT:
    return "TENSOR_ALIGNMENT";
  case FLASHRT_ERROR_LAUNCH_LIMIT:
    return "LAUNCH_LIMIT";
  }
  return "UNKNOWN";
}
