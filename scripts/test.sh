#!/usr/bin/env bash
# Builds flash-mlir and runs its regression tests (ninja check-flash),
# installing what is missing and configuring build/ first when needed.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

install_deps
configure
build check-flash
