#!/usr/bin/env bash
# The relocatable bundle, extracted into a temporary folder, runs a program remotely with nothing
# from outside it: every library its ELF files need beyond glibc and the C++ runtime resolves
# inside the bundle, and its own scripts start a server on its cudasim and run vector_ops through
# its interposer with LD_LIBRARY_PATH empty.
#   runs_from_anywhere.sh BUILD_DIR
set -euo pipefail
build=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
archive=$("$(dirname "${BASH_SOURCE[0]}")/../../tools/bundle/make_bundle.sh" "$build" "$work/dist" | tail -1)
[[ $archive == "$work/dist/fastgpu-"*"-linux-x86_64.tar.gz" ]] || { echo "bad archive path: $archive"; exit 1; }
mkdir "$work/somewhere"
tar -C "$work/somewhere" -xzf "$archive"
bundle=$(echo "$work"/somewhere/fastgpu-*)

# Only the host's C and C++ runtime (and the driver, which the test programs take from the
# interposer's folder at run time) may come from outside.
allowed='^(linux-vdso|libc|libm|libdl|libpthread|librt|ld-linux-x86-64|libstdc\+\+|libgcc_s)\.so'
bad=0 checked=0
while read -r elf; do
  [[ $(head -c4 "$elf" | od -An -c | tr -d ' ') == '177ELF' ]] || continue
  checked=$((checked + 1))
  while read -r soname arrow path _; do
    [[ $soname == /* || $soname =~ $allowed ]] && continue
    [[ $soname == libcuda.so.1 && $path == not ]] && continue
    if [[ $arrow != "=>" || $path != "$bundle/"* ]]; then
      echo "FAIL: ${elf#"$bundle"/} takes $soname from $path"
      bad=1
    fi
  done < <(env -u LD_LIBRARY_PATH ldd "$elf")
done < <(find "$bundle" -type f)
((checked >= 10)) || { echo "FAIL: only $checked ELF files in the bundle"; exit 1; }
((bad == 0)) || exit 1
echo "all $checked ELF files resolve their libraries inside the bundle"

# The bundle's own scripts and programs, from a folder that is neither the source nor the build.
cd "$work"
env -u LD_LIBRARY_PATH -u FASTGPU_BUILD bash -c '
  source "$1/scripts/common.sh"
  [[ $FASTGPU_BUILD == "$1" ]] || { echo "FAIL: common.sh took $FASTGPU_BUILD for the bundle"; exit 1; }
  FASTGPU_SIM_MEMORY=1GiB FASTGPU_SERVER_GRACE=0 start_fastgpu_server "$1/lib/cudasim/libcuda.so.1"
  trap stop_fastgpu_server EXIT
  "$1/bin/fastgpu" run -- "$1/bin/vector_ops"
' _ "$bundle" | tee "$work/out"
grep -qx "vector_ops: all results correct" "$work/out"
echo "the extracted bundle ran vector_ops remotely"
