# Shared by scripts/test.sh and scripts/demo.sh: install what is missing, then build.
# Source it; it sets FASTGPU_ROOT and FASTGPU_BUILD. In an extracted bundle (scripts/bundle.sh),
# which mirrors the build tree, both are the bundle's root.

set -euo pipefail
FASTGPU_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -f $FASTGPU_ROOT/FASTGPU_BUNDLE ]]; then
  FASTGPU_BUILD="${FASTGPU_BUILD:-$FASTGPU_ROOT}"
else
  FASTGPU_BUILD="${FASTGPU_BUILD:-$FASTGPU_ROOT/build}"
fi
FASTGPU_CUDA_ROOT="${FASTGPU_CUDA_ROOT:-/usr/local/cuda}"

# Debian packages the build needs (clang-14 and its runtime: the libFuzzer targets, scripts/fuzz.sh).
FASTGPU_PACKAGES=(
  cmake ninja-build g++ pkg-config python3
  libspdlog-dev libfmt-dev libgtest-dev libgmock-dev libbenchmark-dev
  libzstd-dev liblz4-dev libcli11-dev capnproto libcapnp-dev libtomlplusplus-dev libssl-dev
  libcpp-httplib-dev nlohmann-json3-dev libsqlite3-dev patchelf libibverbs-dev
  clang-14 libclang-rt-14-dev
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

# True when this machine has an NVIDIA GPU with a working driver.
have_gpu() {
  command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1
}

# Starts fastgpu-server in the background on a free loopback port, on DRIVER (a libcuda.so.1
# path; cudasim's gets the examples' twins), with $FASTGPU_SERVER_CONFIG, $FASTGPU_SERVER_GRACE
# (seconds of shutdown grace) and $FASTGPU_SERVER_LISTEN (URLs separated by spaces; default
# tcp://127.0.0.1:0) when set. Sets and exports FASTGPU_SERVER (the first URL, with its port),
# FASTGPU_SERVER_URLS (all of them) and FASTGPU_SERVER_PID; the caller stops it with
# stop_fastgpu_server.
start_fastgpu_server() {
  local driver=$1 twins url listen=()
  twins=$(find "$FASTGPU_BUILD/lib/cudasim/twins" -name '*.so' 2>/dev/null | sort | paste -sd: -)
  for url in ${FASTGPU_SERVER_LISTEN:-tcp://127.0.0.1:0}; do listen+=(--listen "$url"); done
  exec {FASTGPU_SERVER_FD}< <(FASTGPU_SIM_KERNELS="$twins${FASTGPU_SIM_KERNELS:+:$FASTGPU_SIM_KERNELS}" \
    exec "$FASTGPU_BUILD/bin/fastgpu-server" "${listen[@]}" --driver "$driver" \
    ${FASTGPU_SERVER_CONFIG:+--config "$FASTGPU_SERVER_CONFIG"} --log-level "${FASTGPU_SERVER_LOG:-warn}" \
    ${FASTGPU_SERVER_GRACE:+--shutdown-grace "$FASTGPU_SERVER_GRACE"})
  FASTGPU_SERVER_PID=$!
  local line urls=()
  while ((${#urls[@]} < ${#listen[@]} / 2)); do
    if ! read -r -t 30 -u "$FASTGPU_SERVER_FD" line; then
      echo "error: fastgpu-server did not start (driver $driver)" >&2
      return 1
    fi
    urls+=("${line##* }")
  done
  FASTGPU_SERVER_URLS="${urls[*]}"
  export FASTGPU_SERVER=${urls[0]} FASTGPU_SERVER_URLS FASTGPU_SERVER_PID
}

stop_fastgpu_server() {
  if [[ -n ${FASTGPU_SERVER_PID:-} ]]; then
    kill "$FASTGPU_SERVER_PID" 2>/dev/null || true
    wait "$FASTGPU_SERVER_PID" 2>/dev/null || true
    FASTGPU_SERVER_PID=
  fi
}

prepare() {
  require_cuda_toolkit
  install_missing_packages
  build_fastgpu
}
