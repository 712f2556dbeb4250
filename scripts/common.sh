# Shared by scripts/test.sh and scripts/demo.sh: install what is missing, then build.
# Source it; it sets FASTGPU_ROOT and FASTGPU_BUILD.

set -euo pipefail
FASTGPU_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FASTGPU_BUILD="${FASTGPU_BUILD:-$FASTGPU_ROOT/build}"
FASTGPU_CUDA_ROOT="${FASTGPU_CUDA_ROOT:-/usr/local/cuda}"

# Debian packages the build needs.
FASTGPU_PACKAGES=(
  cmake ninja-build g++ pkg-config python3
  libspdlog-dev libfmt-dev libgtest-dev libgmock-dev libbenchmark-dev
  libzstd-dev liblz4-dev libcli11-dev capnproto libcapnp-dev libtomlplusplus-dev
)

log() { printf '\033[1m==> %s\033[0m\n' "$*"; }

require_cuda_toolkit() {
  if [[ ! -f "$FASTGPU_CUDA_ROOT/include/cuda.h" || ! -x "$FASTGPU_CUDA_ROOT/bin/nvcc" ]]; then
    cat >&2 <<MSG
error: the CUDA toolkit is missing: expected $FASTGPU_CUDA_ROOT/include/cuda.h and $FASTGPU_CUDA_ROOT/bin/nvcc.
FastGPU needs the CUDA toolkit 12.4 or newer (headers and nvcc); it is the one prerequisite that is not a
Debian package. Install it from NVIDIA (https://developer.nvidia.com/cuda-downloads) into /usr/local/cuda,
or set FASTGPU_CUDA_ROOT to where it is.
MSG
    exit 1
  fi
}

install_missing_packages() {
  local missing=()
  for package in "${FASTGPU_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  if ((${#missing[@]} == 0)); then return; fi
  log "Installing missing Debian packages: ${missing[*]}"
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "error: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
  fi
  "${sudo[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q "${missing[@]}"
}

build_fastgpu() {
  log "Building FastGPU in $FASTGPU_BUILD"
  cmake -S "$FASTGPU_ROOT" -B "$FASTGPU_BUILD" -G Ninja -DFASTGPU_CUDA_ROOT="$FASTGPU_CUDA_ROOT" >/dev/null
  cmake --build "$FASTGPU_BUILD" -j "$(nproc)"
}

prepare() {
  require_cuda_toolkit
  install_missing_packages
  build_fastgpu
}
