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

# The deepest stage that exists today (no GPU code generation yet): the
# flash ops tiled into the IO-aware online-softmax loop nest, and the whole
# module lowered to the LLVM dialect for the CPU.
example="$FLASH_ROOT/examples/attention.mlir"
tiled="$FLASH_ROOT/out/attention.tiled.mlir"
lowered="$FLASH_ROOT/out/attention.cpu.mlir"
mkdir -p "$FLASH_ROOT/out"
opt="$FLASH_BUILD_DIR/bin/flash-opt"
log "run: flash-opt --flash-tile-attention examples/attention.mlir"
"$opt" --flash-tile-attention="block-q=64 block-kv=64" "$example" -o "$tiled"
if grep -q 'flash\.' "$tiled"; then
  die "flash ops are left in $tiled"
fi
log "wrote ${tiled#"$FLASH_ROOT"/} ($(grep -c 'scf.for' "$tiled") scf.for loops, no flash ops left)"
log "run: flash-opt --flash-to-cpu examples/attention.mlir"
"$opt" --flash-to-cpu "$example" -o "$lowered"
log "wrote ${lowered#"$FLASH_ROOT"/} ($(grep -c 'llvm.func' "$lowered") llvm.func)"
