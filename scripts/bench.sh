#!/usr/bin/env bash
# Builds FastGPU and runs the benchmarks against a fastgpu-server on cudasim, on loopback. Each
# prints its ratio against a baseline measured in the same run. Record results in
# docs/performance.md with the date and the machine.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
prepare
export FASTGPU_SIM_MEMORY=${FASTGPU_SIM_MEMORY:-2GiB}
# One server on plain TCP, TLS and a Unix socket, with certificates made for the run, and a module cache.
certs=$(mktemp -d)
trap 'stop_fastgpu_server; rm -rf "$certs"' EXIT
"$FASTGPU_BUILD/tests/fastgpu-test-certs" "$certs"
printf 'tls_cert = "%s/server.pem"\ntls_key = "%s/server.key"\nmodule_cache_dir = "%s/module-cache"\n' "$certs" "$certs" "$certs" >"$certs/server.toml"
FASTGPU_SERVER_LISTEN="tcp://127.0.0.1:0 tls://127.0.0.1:0 unix://$certs/fastgpu.sock rdma://127.0.0.1:0" \
  FASTGPU_SERVER_CONFIG=$certs/server.toml start_fastgpu_server "$FASTGPU_BUILD/lib/cudasim/libcuda.so.1"
read -r tcp_url tls_url unix_url rdma_url <<<"$FASTGPU_SERVER_URLS"
bench=$FASTGPU_BUILD/bin/fastgpu_bench
# Each benchmark measures the transport its URL names: a client on this host would otherwise move
# onto shared memory by itself (the transport loop below measures that).
export FASTGPU_TRANSPORT=tcp
interposer=$FASTGPU_BUILD/lib/fastgpu/libcuda.so.1
log "Machine: $(nproc) cores, $(uname -r), $(date -u +%Y-%m-%d)"
"$bench" latency --interposer "$interposer"
FASTGPU_STATS=1 "$bench" launches --interposer "$interposer" --cudasim "$FASTGPU_BUILD/lib/cudasim/libcuda.so.1" \
  --fatbin "$FASTGPU_BUILD/tests/data/test_kernels.fatbin"
"$bench" bandwidth --interposer "$interposer"
"$bench" startup --interposer "$interposer" --cudasim "$FASTGPU_BUILD/lib/cudasim/libcuda.so.1"
"$bench" modules --interposer "$interposer" --cudasim "$FASTGPU_BUILD/lib/cudasim/libcuda.so.1" \
  --fatbin "$FASTGPU_BUILD/tests/data/test_kernels.fatbin" --module-cache "$certs/module-cache"
log "Over the Unix socket ($unix_url)"
FASTGPU_SERVER=$unix_url FASTGPU_TRANSPORT=unix "$bench" latency --interposer "$interposer"
FASTGPU_SERVER=$unix_url FASTGPU_TRANSPORT=unix "$bench" bandwidth --interposer "$interposer"
# Each transport against native cudasim, in one process and run each (issue 11, point 7).
for transport in tcp unix shm; do
  url=$unix_url
  [[ $transport == tcp ]] && url=$tcp_url
  FASTGPU_SERVER=$url FASTGPU_TRANSPORT=$transport "$bench" transport --label "$transport" --interposer "$interposer" \
    --cudasim "$FASTGPU_BUILD/lib/cudasim/libcuda.so.1" --fatbin "$FASTGPU_BUILD/tests/data/test_kernels.fatbin" \
    --server-pid "$FASTGPU_SERVER_PID"
done
if compgen -G "/sys/class/infiniband/*" >/dev/null; then
  FASTGPU_SERVER=$rdma_url FASTGPU_TRANSPORT=rdma "$bench" transport --label rdma --interposer "$interposer" \
    --cudasim "$FASTGPU_BUILD/lib/cudasim/libcuda.so.1" --fatbin "$FASTGPU_BUILD/tests/data/test_kernels.fatbin" \
    --server-pid "$FASTGPU_SERVER_PID"
else
  log "[rdma] skipped: no RDMA device on this machine (/sys/class/infiniband is empty; docs/rdma.md)"
fi
FASTGPU_TLS_CA=$certs/ca.pem "$bench" tls --interposer "$interposer" --tcp "$tcp_url" --tls "$tls_url"
