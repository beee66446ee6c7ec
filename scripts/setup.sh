#!/usr/bin/env bash
# Sets up flash-mlir on Debian 12 and runs it on the bundled example:
# installs what is missing, configures build/, builds flash-opt, flash-aot
# and libFlashRuntime.so, and writes the kernels of
# examples/naive_attention.mlir to out/kernels/. Safe to run again.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

install_deps
configure
build flash-opt flash-aot FlashRuntime

# The main job: naive attention MLIR in, PTX kernels out. flash-aot raises
# the linalg graph of examples/naive_attention.mlir into flash.attention and
# writes its tensor-core kernels (PTX, cubins where ptxas is installed, and
# a manifest for the runtime) for Ampere and Hopper.
example="$FLASH_ROOT/examples/naive_attention.mlir"
kernels="$FLASH_ROOT/out/kernels"
rm -rf "$kernels"
log "run: flash-aot examples/naive_attention.mlir --chip=sm_80,sm_90a -o out/kernels"
"$FLASH_BUILD_DIR/bin/flash-aot" "$example" --chip=sm_80,sm_90a -o "$kernels"
# The tensor-core products: mma.sync on sm_80, warpgroup MMAs on sm_90a.
for ptx in "$kernels"/*.ptx; do
  mmas=$(grep -cE 'mma\.sync|wgmma\.mma_async' "$ptx" || true)
  log "wrote ${ptx#"$FLASH_ROOT"/} ($mmas tensor-core MMA instructions)"
done
log "runtime: ${FLASH_BUILD_DIR#"$FLASH_ROOT"/}/lib/libFlashRuntime.so" \
  "(loads out/kernels; README.md, 'After setup')"
