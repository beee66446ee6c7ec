//===- RuntimeWrapperTest.cpp - Drive the C++ wrapper for lit tests -------===//
//
// flashrt-test-cxx MANIFEST: parses MANIFEST through flash::rt::Library,
// selects and validates through the wrapper, and creates a context (which
// fails cleanly without a driver). Prints one line per result.
//
//===----------------------------------------------------------------------===//

#include "flash/Runtime/Runtime.hpp"

#include <cstdio>
#include <fstream>
#include <sstream>

using namespace flash::rt;

static void print(const char *what, const Status &status) {
  std::printf("%s: %s\n", what, status.toString().c_str());
}

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: flashrt-test-cxx MANIFEST\n");
    return 2;
  }
  std::ifstream file(argv[1]);
  std::stringstream text;
  text << file.rdbuf();

  print("abi version", checkAbiVersion());

  Result<Library> bad = Library::parse("{\"version\": 2, \"kernels\": [}");
  print("parse bad", bad.status());

  Result<Library> lib = Library::parse(text.str(), "/kernels");
  print("parse", lib.status());
  if (!lib)
    return 1;
  std::printf("size: %zu\n", lib->size());

  flashrt_spec spec{64, FLASHRT_DTYPE_F16, FLASHRT_MASK_CAUSAL, 0,
                    FLASHRT_CHIP_ANY, FLASHRT_KIND_FORWARD};
  Result<flashrt_selection> chosen = lib->select(spec, FLASHRT_CHIP_SM_90);
  print("select", chosen.status());
  Result<flashrt_kernel_info> info = lib->info(chosen->index);
  std::printf("selected: %s\n", info->name);
  print("select on sm_75", lib->select(spec, 750).status());

  void *base = reinterpret_cast<void *>(0x10000);
  Tensor q(base, FLASHRT_DTYPE_F16, {2, 8, 100, 64});
  Tensor k(base, FLASHRT_DTYPE_F16, {2, 2, 120, 64});
  Tensor v(base, FLASHRT_DTYPE_F16, {2, 2, 120, 64});
  Tensor o(base, FLASHRT_DTYPE_F16, {2, 8, 100, 64});
  Tensor lse(base, FLASHRT_DTYPE_F32, {2, 8, 100});
  std::printf("q strides: %lld %lld %lld %lld\n", (long long)q.strides[0],
              (long long)q.strides[1], (long long)q.strides[2],
              (long long)q.strides[3]);
  float scale = defaultScale(64);
  std::printf("default scale: %g\n", scale);
  print("validate", validateForward(*info, q, k, v, o, lse, scale));
  Tensor bshd(base, FLASHRT_DTYPE_F16, {2, 8, 100, 64},
              {100 * 8 * 64, 64, 8 * 64, 1});
  print("validate bshd", validateForward(*info, bshd, k, v, o, lse, scale));
  Tensor odd(base, FLASHRT_DTYPE_F16, {2, 2, 120, 64}, {1, 2, 3, 4});
  print("validate odd k", validateForward(*info, q, odd, v, o, lse, scale));
  flashrt_dropout dropout{0.1, 1, 0};
  print("validate dropout", validateForwardDropout(*info, q, k, v, o, lse,
                                                   dropout, scale));

  // A block-sparse call: a 64 x 64 layout of the 100 x 120 problem, one
  // for every batch and head, with no full list.
  flashrt_spec sparseSpec{64,
                          FLASHRT_DTYPE_F16,
                          FLASHRT_MASK_NONE,
                          FLASHRT_FEATURE_BLOCK_SPARSE,
                          FLASHRT_CHIP_ANY,
                          FLASHRT_KIND_FORWARD};
  Result<flashrt_selection> sparse = lib->select(sparseSpec, 800);
  print("select sparse", sparse.status());
  Result<flashrt_kernel_info> sparseInfo = lib->info(sparse->index);
  Tensor counts(base, FLASHRT_DTYPE_I32, {1, 1, 2});
  Tensor indices(base, FLASHRT_DTYPE_I32, {1, 1, 2, 2});
  flashrt_block_layout layout{&counts, &indices, nullptr, nullptr, 64, 64};
  print("validate sparse", validateForwardSparse(*sparseInfo, q, k, v, o, lse,
                                                 layout, scale));
  layout.block_kv = 32;
  print("validate sparse block_kv", validateForwardSparse(
                                        *sparseInfo, q, k, v, o, lse, layout,
                                        scale));
  Result<int64_t> smem = sparseSharedMemory(*sparseInfo, 120, 64);
  std::printf("sparse shared memory: %lld\n", (long long)*smem);
  Result<size_t> workspace = backwardWorkspaceSize(*sparseInfo, 2, 8, 100);
  std::printf("backward workspace: %zu\n", *workspace);

  Result<Context> ctx = Context::create(0);
  print("context", ctx.status());
  return 0;
}
