#!/usr/bin/env bash
# Builds FastGPU and runs the benchmarks against a fastgpu-server on cudasim, on loopback. Each
# prints its ratio against a baseline measured in the same run. Record results in
# docs/performance.md with the date and the machine.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
prepare
export FASTGPU_SIM_MEMORY=${FASTGPU_SIM_MEMORY:-2GiB}
start_fastgpu_server "$FASTGPU_BUILD/lib/cudasim/libcuda.so.1"
trap stop_fastgpu_server EXIT
bench=$FASTGPU_BUILD/bin/fastgpu_bench
interposer=$FASTGPU_BUILD/lib/fastgpu/libcuda.so.1
log "Machine: $(nproc) cores, $(uname -r), $(date -u +%Y-%m-%d)"
"$bench" latency --interposer "$interposer"
FASTGPU_STATS=1 "$bench" launches --interposer "$interposer" --cudasim "$FASTGPU_BUILD/lib/cudasim/libcuda.so.1" \
  --fatbin "$FASTGPU_BUILD/tests/data/test_kernels.fatbin"
"$bench" bandwidth --interposer "$interposer"
"$bench" startup --interposer "$interposer" --cudasim "$FASTGPU_BUILD/lib/cudasim/libcuda.so.1"
