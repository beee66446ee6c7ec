# shellcheck shell=bash
# Shared by scripts/setup.sh and scripts/test.sh; sourced, not run.
#
# Environment:
#   FLASH_BUILD_DIR  build directory (default: <repo>/build)
#   FLASH_JOBS       parallel build jobs (default: nproc)

FLASH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FLASH_BUILD_DIR="${FLASH_BUILD_DIR:-$FLASH_ROOT/build}"
FLASH_JOBS="${FLASH_JOBS:-$(nproc 2>/dev/null || echo 2)}"
LLVM_PREFIX=/usr/lib/llvm-22

# What a fresh Debian 12 machine lacks to build and test flash-mlir.
FLASH_APT_PACKAGES=(
  llvm-22-dev libmlir-22-dev mlir-22-tools
  cmake ninja-build g++
  python3-numpy python3-pytest python3-torch
)
# The packages that Debian 12 serves from bookworm-security only.
FLASH_LLVM_PACKAGES=(llvm-22-dev libmlir-22-dev mlir-22-tools)

log() { printf '==> %s\n' "$*" >&2; }
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# Prints the path of the built flash-opt, or stops saying how to build it.
built_flash_opt() {
  local flash_opt="$FLASH_BUILD_DIR/bin/flash-opt"
  [[ -x $flash_opt ]] ||
    die "$flash_opt not found: build it first" \
      "(scripts/test.sh, or ninja -C $FLASH_BUILD_DIR flash-opt)"
  printf '%s\n' "$flash_opt"
}

# Prints the packages of FLASH_APT_PACKAGES that are not installed.
missing_packages() {
  local pkg
  for pkg in "${FLASH_APT_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null |
      grep -q 'install ok installed'; then
      echo "$pkg"
    fi
  done
}

# Installs whatever is missing with apt-get (through sudo when not root).
install_deps() {
  command -v dpkg-query >/dev/null ||
    die "dpkg-query not found: these scripts support Debian 12 only;" \
      "install ${FLASH_APT_PACKAGES[*]} (or their equivalents) by hand"
  local missing=()
  mapfile -t missing < <(missing_packages)
  if ((${#missing[@]} == 0)); then
    log "dependencies: all installed"
    return 0
  fi

  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null ||
      die "not root and sudo is missing; as root run: apt-get install ${missing[*]}"
    sudo=(sudo)
  fi

  log "installing: ${missing[*]}"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q

  # llvm-22 is not in bookworm's main suite; check that some source serves it
  # before asking apt-get, so that the failure says what to do.
  local pkg candidate
  for pkg in "${FLASH_LLVM_PACKAGES[@]}"; do
    candidate="$(apt-cache policy "$pkg" 2>/dev/null |
      awk '/Candidate:/ { print $2 }')"
    if [[ -z $candidate || $candidate == "(none)" ]]; then
      die "no APT source offers $pkg (LLVM/MLIR 22).
  On Debian 12 it comes from the security suite: check that
  /etc/apt/sources.list(.d) has 'deb http://deb.debian.org/debian-security
  bookworm-security main', or add the apt.llvm.org repository
  'llvm-toolchain-bookworm-22' (see https://apt.llvm.org); then run
  'apt-get update' and this script again."
    fi
  done

  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# Configures the build directory unless it is configured already.
configure() {
  [[ -f $LLVM_PREFIX/lib/cmake/mlir/MLIRConfig.cmake ]] ||
    die "MLIR 22 not found under $LLVM_PREFIX (is libmlir-22-dev installed?)"
  if [[ -f $FLASH_BUILD_DIR/build.ninja ]]; then
    log "configure: $FLASH_BUILD_DIR already configured"
    return 0
  fi
  log "configure: $FLASH_BUILD_DIR"
  cmake -G Ninja -S "$FLASH_ROOT" -B "$FLASH_BUILD_DIR" \
    -DCMAKE_BUILD_TYPE=Release \
    -DMLIR_DIR="$LLVM_PREFIX/lib/cmake/mlir"
}

# Builds the given ninja targets.
build() {
  log "build: $* (-j$FLASH_JOBS)"
  ninja -C "$FLASH_BUILD_DIR" -j "$FLASH_JOBS" "$@"
}
