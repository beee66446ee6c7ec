#!/usr/bin/env bash
# Differential fuzzing of the CPU lowerings: draws CASES random flash.attention
# (+ flash.attention_grad) cases and checks each through three CPU lowerings,
#   tiled:       flash-opt --flash-to-cpu=tile-q=.. tile-kv=..
#   decomposed:  flash-opt --flash-decompose-attention --flash-to-cpu=..
#   retiled:     flash-opt --flash-tile-attention=<other tiles> --flash-to-cpu
# against an independent float64 numpy reference (test/lib/attention_exec.py
# --random; check-flash runs 20 such cases with a fresh seed in
# test/Execution/Tiling/random.test and 24 with seed 25 in differential.test).
# The first 3 failing cases are reduced (features dropped, extents shrunk)
# to a reproducer in attention-repro/.
#
# Usage: scripts/fuzz-cpu.sh [CASES [SEED]]
#   CASES  number of cases (default 500; about 5 cases a second on 2 cores)
#   SEED   replays a run (default: FLASH_TEST_SEED, else a fresh seed)
#
# What it draws: f32/f16/bf16; B 1-2; Hq/Hkv with GQA and MQA ratios; Lq and
# Lk in 1-70 (Lq > Lk, length 1, odd tails); D and Dv in 4-64; in 30% of the
# cases q, k and v cast to types with some or all extents dynamic; CPU tile sizes
# independent of the layout's block sizes (6 cases share a module and its
# tiles); mask kinds none/causal/causal_bottom_right/sliding_window with window
# sides of 0, small, about the lengths, large and near INT64_MAX; scale
# (sometimes negative) and softcap; additive and boolean masks broadcast along
# any dimensions, with rows hiding every key; block-sparse layouts whose CSR
# lists are clean or hostile (repeated, unsorted, negative and >= NKV indices,
# counts above N or negative, valid indices past the count, tiles in both
# lists, batch/head extent 1); masked_score fills down to the lowest f32; grad
# on most cases without masked_score.
#
# Output: one line per case, `randomI: PASS|FAIL seed=S spec={...}`; a failing
# case adds its errors and a `replay:` command that runs it alone
# (attention_exec.py --spec JSON --seed S, which also takes --keep-modules DIR
# to keep the module). The last line is `random: PASS` or `random: FAIL (...)`
# with the failing cases, and the exit status is 1 on failure.
#
# Bounds (attention_exec.py BOUNDS): max|x - ref| / max|ref| over the finite
# entries, per element type: output 1e-4/4e-3/3e-2 (f32/f16/bf16), lse 1e-5,
# gradients 1e-3/2e-2/6e-2, with gradients measured against at least 1% of
# the sum of their terms' absolute values (they cancel to 0 where each row
# sees one key). -inf must match exactly and NaN never passes.
#
# Environment: FLASH_BUILD_DIR (default <repo>/build), FLASH_TEST_SEED.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

cases="${1:-500}"
seed="${2:-${FLASH_TEST_SEED:-}}"
flash_opt=$(built_flash_opt)

seed_args=()
[[ -n $seed ]] && seed_args=(--seed "$seed")
log "fuzz-cpu: $cases cases"
exec /usr/bin/python3 "$FLASH_ROOT/test/lib/attention_exec.py" \
  --random "$cases" "${seed_args[@]}" \
  --flash-opt "$flash_opt" \
  --mlir-runner "$LLVM_PREFIX/bin/mlir-runner" \
  --mlir-lib-dir "$LLVM_PREFIX/lib"
