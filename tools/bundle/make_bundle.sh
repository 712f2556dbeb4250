#!/usr/bin/env bash
# Makes the relocatable bundle from a finished build tree (scripts/bundle.sh builds first):
#   make_bundle.sh BUILD_DIR OUT_DIR
# Writes OUT_DIR/fastgpu-VERSION-linux-x86_64.tar.gz and prints its path as the last line.
#
# The bundle mirrors the build tree (bin/, lib/fastgpu/, lib/cudasim/, tests/), so the scripts in
# it run with FASTGPU_BUILD set to its root. Every shared library beyond glibc and the C++ runtime
# is copied into lib/deps/, and every ELF file's RPATH points there, $ORIGIN-relative: the bundle
# runs wherever it is extracted, on a host with none of Debian's packages. DT_RPATH (not RUNPATH)
# on purpose: it also serves the dependencies' own dependencies.
set -euo pipefail
build=$(cd "$1" && pwd)
mkdir -p "$2"
out=$(cd "$2" && pwd)
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

command -v patchelf >/dev/null || { echo "error: patchelf is missing (Debian package patchelf)" >&2; exit 1; }
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
[[ -n $version ]] || { echo "error: no project version in $build/CMakeCache.txt; is $build a build tree?" >&2; exit 1; }
name=fastgpu-$version-linux-x86_64
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
dest=$stage/$name

# What goes in: the programs, both drivers, the end-to-end programs the GPU check runs, the
# scripts that run them, the example configuration and the docs.
copy() {  # copy FROM... TO_DIR (relative to the bundle)
  local to=$dest/${*: -1}
  mkdir -p "$to"
  cp -a "${@:1:$#-1}" "$to/"
}
copy "$build"/bin/{fastgpu,fastgpu-server,fastgpu_bench,vector_ops,driver_api,errors} bin
copy "$build"/lib/fastgpu/libcuda.so.1 "$build"/lib/fastgpu/libcuda.so "$build"/lib/fastgpu/libnvidia-ml.so.1 lib/fastgpu
copy "$build"/lib/cudasim/libcuda.so.1 "$build"/lib/cudasim/libcuda.so "$build"/lib/cudasim/libnvidia-ml.so.1 \
  "$build"/lib/cudasim/twins lib/cudasim
copy "$build"/tests/{big_copy,launch_storm,async_errors,framework_queries,expandable_segments,stream_ordered,memory_probe,graphs,graph_nodes,graph_node_updates,capture_dependencies,tensor_map,device_output,strided_copies,link,shareable_memory,nvml_probe} tests
copy "$build"/tests/libfastgpu_test_twins.so "$build"/tests/data/{test_kernels.fatbin,test_kernels.cubin,test_kernels.ptx,test_kernels.o,libtest_kernels.a} tests/data
copy "$root"/tests/e2e/round_trips.sh tests/e2e
copy "$root"/tests/gpu/torch_suite.py tests/gpu
copy "$root"/scripts/common.sh "$root"/scripts/gpu-check.sh scripts
copy "$root"/deploy/fastgpu-server.toml etc
copy "$root"/README.md .
copy "$root"/docs/*.md docs
echo "$version" >"$dest/FASTGPU_BUNDLE"

is_elf() { [[ -f $1 && ! -L $1 && $(head -c4 "$1" | od -An -c | tr -d ' ') == '177ELF' ]]; }
# Programs and libraries; test data (a cubin, a host object) is ELF too, but input, not code to run.
mapfile -t elves < <(find "$dest" -type f -not -path "$dest/tests/data/*.cubin" -not -path "$dest/tests/data/*.o" \
  | sort | while read -r f; do is_elf "$f" && echo "$f"; done)

# Libraries every Linux host has in a compatible version, and the driver, which must stay the host's.
system_library='^(libc|libm|libdl|libpthread|librt|libutil|libresolv|ld-linux-x86-64|libstdc\+\+|libgcc_s|libcuda)\.so'
deps=$dest/lib/deps
mkdir -p "$deps"
for elf in "${elves[@]}"; do
  while read -r soname arrow path _; do
    [[ $arrow == "=>" && ! $soname =~ $system_library ]] || continue
    if [[ $path == not ]]; then
      echo "error: $elf needs $soname, which this machine does not have" >&2
      exit 1
    fi
    [[ -e $deps/$soname ]] || cp -L "$path" "$deps/$soname"
  done < <(ldd "$elf")
done

# Debug information stays in the build tree; the bundle carries what runs.
for elf in "${elves[@]}" "$deps"/*; do
  chmod u+w "$elf"
  strip --strip-debug "$elf"
  relative=$(realpath --relative-to="$(dirname "$elf")" "$deps")
  [[ $relative == . ]] && rpath='$ORIGIN' || rpath="\$ORIGIN/$relative"
  patchelf --force-rpath --set-rpath "$rpath" "$elf"
done

tar -C "$stage" -czf "$out/$name.tar.gz" "$name"
echo "$out/$name.tar.gz"
