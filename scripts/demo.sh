#!/usr/bin/env bash
# Installs what is missing, builds FastGPU, starts fastgpu-server (on the real driver when this
# machine has an NVIDIA GPU, else on cudasim) with two vGPUs, and runs the example programs
# through them next to their native runs, printing what happened.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
prepare
if have_gpu; then
  driver=libcuda.so.1
  native() { "$@"; }
  log "An NVIDIA GPU is present: the server runs on the real driver"
else
  driver=$FASTGPU_BUILD/lib/cudasim/libcuda.so.1
  native() { "$FASTGPU_BUILD/bin/fastgpu" sim -- "$@"; }
  export FASTGPU_SIM_MEMORY=${FASTGPU_SIM_MEMORY:-16GiB}
  log "No GPU here: the server runs on cudasim, the CPU-simulated driver"
fi

# Two vGPUs on the first GPU: different quotas, shares and priorities.
demo=$(mktemp -d)
cat >"$demo/server.toml" <<TOML
admin_listen = "tcp://127.0.0.1:0"
admin_token = "demo-admin"
[[vgpu]]
name = "team-a"
gpu = 0
memory = "4GiB"
compute_share = 3
priority = "high"
tokens = ["demo-a"]
[[vgpu]]
name = "team-b"
gpu = 0
memory = "1GiB"
compute_share = 1
compute_cap = 50
priority = "low"
tokens = ["demo-b"]
TOML
export FASTGPU_SERVER_CONFIG=$demo/server.toml FASTGPU_ADMIN_TOKEN=demo-admin
start_fastgpu_server "$driver"
trap 'stop_fastgpu_server; rm -rf "$demo"' EXIT
read -r -t 30 -u "$FASTGPU_SERVER_FD" line && export FASTGPU_ADMIN=${line##* }
log "fastgpu-server listening on $FASTGPU_SERVER with vGPUs team-a (4GiB, share 3, high) and team-b (1GiB, share 1, cap 50%, low)"

run_on() {  # vgpu token example
  log "$3 on vGPU $1 (fastgpu run --vgpu $1 -- build/bin/$3)"
  FASTGPU_STATS=1 "$FASTGPU_BUILD/bin/fastgpu" run --vgpu "$1" --token "$2" -- "$FASTGPU_BUILD/bin/$3"
}
log "vector_ops, natively"
native "$FASTGPU_BUILD/bin/vector_ops"
run_on team-a demo-a vector_ops
run_on team-b demo-b driver_api
run_on team-a demo-a errors
log "A wrong token is refused"
"$FASTGPU_BUILD/bin/fastgpu" run --vgpu team-b --token wrong -- "$FASTGPU_BUILD/bin/vector_ops" || true
log "The vGPUs after the runs (fastgpu vgpu list)"
"$FASTGPU_BUILD/bin/fastgpu" vgpu list
log "Done: the examples ran natively and remotely on two vGPUs"
