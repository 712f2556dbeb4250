#!/usr/bin/env bash
# A process's second start sends a large module's digest, not the module: the server kept it in
# the vGPU's module cache after the first. (Bytes counted by the client, FASTGPU_STATS=1.)
#   module_cache.sh BUILD_DIR LAUNCH_STORM PTX
set -euo pipefail
if [[ ${1:-} != --with-server ]]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  printf 'module_cache_dir = "%s/cache"\n' "$work" >"$work/server.toml"
  FASTGPU_SERVER_CONFIG=$work/server.toml "$(dirname "$0")/with_server.sh" "$1" "$0" --with-server "$@" "$work"
  exit
fi
build=$2 storm=$3 ptx=$4 work=$5
# The test kernels' PTX, padded with comments to 200 KB: a module worth asking for by digest.
image=$work/large.ptx
cp "$ptx" "$image"
while (($(stat -c %s "$image") < 200000)); do
  printf '// padding: a large module has many kernels %.0s\n' {1..1000} >>"$image"
done
printf '\0' >>"$image"  # PTX text ends with its NUL, as cuModuleLoadData reads it
size=$(stat -c %s "$image")
# Runs one process that loads the module and launches once; prints the bytes it sent.
sent() {
  if ! FASTGPU_STATS=1 "$build/bin/fastgpu" run -- "$storm" "$image" 1 >"$work/out" 2>"$work/err"; then
    echo "launch_storm failed: $(cat "$work/out" "$work/err")" >&2
    return 1
  fi
  grep -qx "launched 1 kernels" "$work/out" || { echo "did not launch: $(cat "$work/out")" >&2; return 1; }
  local bytes
  bytes=$(sed -n 's/^fastgpu: .* bytes sent=\([0-9][0-9]*\)$/\1/p' "$work/err")
  [[ $bytes =~ ^[0-9]+$ ]] || { echo "no byte count in: $(cat "$work/err")" >&2; return 1; }
  echo "$bytes"
}
first=$(sent)
second=$(sent)
echo "a $size-byte module: the first start sent $first bytes, the second $second"
kept=$(find "$work/cache" -type f | wc -l)
if ((first < size)); then echo "the first start did not send the module"; exit 1; fi
if ((kept != 1)); then echo "the server keeps $kept images (1 expected)"; exit 1; fi
if ((second > first - size)); then echo "the second start sent the module again"; exit 1; fi
echo "the second start loaded the module by digest"
