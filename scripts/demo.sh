#!/usr/bin/env bash
# Installs what is missing, builds FastGPU and runs the example programs on cudasim, the
# CPU-simulated CUDA driver, printing what they computed.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
prepare
for example in vector_ops driver_api errors; do
  log "$example on cudasim (fastgpu sim -- build/bin/$example)"
  "$FASTGPU_BUILD/bin/fastgpu" sim --devices 2 --memory 16GiB -- "$FASTGPU_BUILD/bin/$example"
done
log "All examples ran on cudasim"
