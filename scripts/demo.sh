#!/usr/bin/env bash
# Installs what is missing, builds FastGPU, starts fastgpu-server (on the real driver when this
# machine has an NVIDIA GPU, else on cudasim) and runs the example programs through it, next to
# their native runs, printing what they computed.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
prepare
if have_gpu; then
  driver=libcuda.so.1
  native() { "$@"; }
  log "An NVIDIA GPU is present: the server runs on the real driver"
else
  driver=$FASTGPU_BUILD/lib/cudasim/libcuda.so.1
  native() { "$FASTGPU_BUILD/bin/fastgpu" sim -- "$@"; }
  log "No GPU here: the server runs on cudasim, the CPU-simulated driver"
fi
start_fastgpu_server "$driver"
trap stop_fastgpu_server EXIT
log "fastgpu-server listening on $FASTGPU_SERVER"
for example in vector_ops driver_api errors; do
  log "$example, natively"
  native "$FASTGPU_BUILD/bin/$example"
  log "$example, remotely (fastgpu run --server $FASTGPU_SERVER -- build/bin/$example)"
  FASTGPU_STATS=1 "$FASTGPU_BUILD/bin/fastgpu" run -- "$FASTGPU_BUILD/bin/$example"
done
log "All examples ran natively and through fastgpu-server"
