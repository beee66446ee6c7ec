//===- File.cpp - Read whole files ----------------------------------------===//

#include "File.h"
#include "Error.h"

#include <cerrno>
#include <cstdio>
#include <memory>
#include <system_error>

using namespace flashrt;

namespace {
struct FileCloser {
  void operator()(std::FILE *file) const { std::fclose(file); }
};

flashrt_status ioError(const std::string &path, const std::string &what,
                       int error) {
  return fail(FLASHRT_ERROR_IO, "cannot read " + what + " '" + path +
                                    "': " +
                                    std::generic_category().message(error));
}
} // namespace

flashrt_status flashrt::readWholeFile(const std::string &path,
                                      const std::string &what,
                                      std::string &out) {
  errno = 0;
  std::FILE *raw = std::fopen(path.c_str(), "rb");
  if (!raw)
    return ioError(path, what, errno);
  std::unique_ptr<std::FILE, FileCloser> file(raw);
  out.clear();
  char buffer[1 << 16];
  while (true) {
    size_t n = std::fread(buffer, 1, sizeof(buffer), file.get());
    out.append(buffer, n);
    if (n < sizeof(buffer)) {
      if (std::ferror(file.get()))
        return ioError(path, what, errno ? errno : EIO);
      return FLASHRT_SUCCESS;
    }
  }
}
