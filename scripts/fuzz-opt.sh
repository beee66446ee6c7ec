#!/usr/bin/env bash
# Mutation fuzzing of flash-opt: INPUTS inputs mutated from the test corpus
# (the .mlir files of test/ and examples/) and from generated flash ops, each
# through one of flash-opt's passes and pipelines (test/lib/mutation_fuzz.py;
# check-flash runs 3000 of them in test/Fuzz/mutation.test).
#
# Usage: scripts/fuzz-opt.sh [INPUTS [SEED [OUT_DIR]]]
#   INPUTS   number of inputs (default 100000; about 150 a second on one core)
#   SEED     replays a run (default: FLASH_TEST_SEED, else a fresh seed)
#   OUT_DIR  where reduced reproducers go (default: fuzz-out)
#
# A signal, an LLVM ERROR, an abort, an assertion or a run past 20 s is a
# failure; a clean diagnostic is not. Each new failure is reduced (line
# ddmin) to OUT_DIR/crash-*.mlir, or OUT_DIR/upstream-*.mlir when the stock
# mlir-opt-22 fails the same way on the upstream-only part (those do not fail
# the run). The last line is `fuzz: PASS` or `fuzz: FAIL`; the exit status is
# 1 on a failure in flash-mlir's code. See docs/reliability.md.
#
# Environment: FLASH_BUILD_DIR (default <repo>/build), FLASH_TEST_SEED.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

inputs="${1:-100000}"
seed="${2:-${FLASH_TEST_SEED:-}}"
out_dir="${3:-fuzz-out}"
flash_opt=$(built_flash_opt)

seed_args=()
[[ -n $seed ]] && seed_args=(--seed "$seed")
log "fuzz-opt: $inputs inputs"
exec /usr/bin/python3 "$FLASH_ROOT/test/lib/mutation_fuzz.py" \
  --inputs "$inputs" "${seed_args[@]}" --root "$FLASH_ROOT" \
  --flash-opt "$flash_opt" --mlir-opt "$LLVM_PREFIX/bin/mlir-opt" \
  --plugin "$FLASH_BUILD_DIR/lib/FlashPlugin.so" --out-dir "$out_dir" \
  --progress 200
