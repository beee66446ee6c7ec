#!/usr/bin/env bash
# Sets up flash-mlir on Debian 12 and runs it on the bundled example:
# installs what is missing, configures build/, builds flash-opt, and writes
# the decomposed example to out/. Safe to run again.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

install_deps
configure
build flash-opt

# The deepest stage that exists today: flash.attention and
# flash.attention_grad rewritten into linalg/tensor/arith/math on tensors.
example="$FLASH_ROOT/examples/attention.mlir"
out="$FLASH_ROOT/out/attention.decomposed.mlir"
mkdir -p "$FLASH_ROOT/out"
log "run: flash-opt --flash-decompose-attention examples/attention.mlir"
"$FLASH_BUILD_DIR/bin/flash-opt" --flash-decompose-attention "$example" \
  -o "$out"
log "wrote ${out#"$FLASH_ROOT"/} ($(grep -c 'linalg.generic' "$out") linalg.generic ops, no flash ops left)"
if grep -q 'flash\.' "$out"; then
  die "flash ops are left in $out"
fi
