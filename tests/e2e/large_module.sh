#!/usr/bin/env bash
# A module too large for its load call (a 34 MB PTX text; a load carries at most 32 MiB) loads
# and launches through FastGPU: the client uploads it in parts.
#   large_module.sh BUILD_DIR LAUNCH_STORM PTX      (run under with_server.sh)
set -euo pipefail
build=$1 storm=$2 ptx=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
image=$work/large.ptx
cp "$ptx" "$image"
yes '// padding: a large module has many kernels' | head -c 34000000 >>"$image" || true
printf '\n\0' >>"$image"  # PTX text ends with its NUL, as cuModuleLoadData reads it
size=$(stat -c %s "$image")
if ! FASTGPU_STATS=1 "$build/bin/fastgpu" run -- "$storm" "$image" 1 >"$work/out" 2>"$work/err"; then
  echo "launch_storm failed: $(cat "$work/out" "$work/err")"
  exit 1
fi
grep -qx "launched 1 kernels" "$work/out" || { echo "did not launch: $(cat "$work/out")"; exit 1; }
sent=$(sed -n 's/^fastgpu: .* bytes sent=\([0-9][0-9]*\)$/\1/p' "$work/err")
echo "a $size-byte module loaded and launched; $sent bytes sent"
((sent >= size)) || { echo "fewer bytes sent than the module has"; exit 1; }
echo "the large module ran"
