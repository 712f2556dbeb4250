#!/usr/bin/env bash
# Builds FastGPU and packs the relocatable bundle: dist/fastgpu-VERSION-linux-x86_64.tar.gz, with
# every dependency beyond glibc and the C++ runtime inside it. Prints the archive's path last.
# On the target host: tar xzf it anywhere; fastgpu-VERSION-linux-x86_64/bin/fastgpu-server runs,
# and scripts/gpu-check.sh in it checks a GPU host in one call (see docs/operations.md).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
prepare
log "Packing the bundle"
"$FASTGPU_ROOT/tools/bundle/make_bundle.sh" "$FASTGPU_BUILD" "$FASTGPU_ROOT/dist"
