#!/usr/bin/env bash
# Symbol hygiene of the libraries FastGPU puts into other people's processes (issue 10, point 7):
# the driver libraries export driver functions only and FastGPU's NVML NVML's only, and none of
# them asks the loader for a library a program commonly loads in a version of its own (OpenSSL,
# zstd, lz4 are linked in, hidden). What stays shared (capnp/kj, fmt, spdlog: Debian ships no
# usable archive) is listed in docs/remote.md.
#   symbol_hygiene.sh BUILD_DIR
set -euo pipefail
build=$1
bad=0
fail() { echo "FAIL: $*"; bad=1; }
check_library() {  # path, the prefix every exported symbol has
  local library=$1 prefix=$2 needed exported
  needed=$(readelf -d "$library" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
  for private in libssl libcrypto libzstd liblz4; do
    grep -q "^$private\." <<<"$needed" && fail "$library needs a shared $private"
  done
  exported=$(nm -D --defined-only "$library" | awk '{print $3}')
  [[ -n $exported ]] || fail "$library exports nothing"
  local stray
  stray=$(grep -v "^$prefix" <<<"$exported" || true)
  [[ -z $stray ]] || fail "$library exports $(head -3 <<<"$stray" | tr '\n' ' ')"
  echo "$library: $(wc -l <<<"$exported") exports, all $prefix*; needs $(tr '\n' ' ' <<<"$needed")"
}
check_library "$build/lib/fastgpu/libcuda.so.1" cu
check_library "$build/lib/cudasim/libcuda.so.1" cu
check_library "$build/lib/fastgpu/libnvidia-ml.so.1" nvml
((bad == 0)) && echo "symbol hygiene holds"
exit $bad
