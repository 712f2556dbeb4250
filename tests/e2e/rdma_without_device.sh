#!/usr/bin/env bash
# Under with_server.sh with FASTGPU_SERVER_LISTEN="rdma://127.0.0.1:0 tcp://127.0.0.1:0": where no
# RDMA device exists, a client of the rdma:// listener logs in over TCP, then fails cuInit saying
# why (its worker fails the same way and ends the session); the server serves the next client.
#   rdma_without_device.sh BUILD_DIR PROGRAM
# Exits 77 (skipped) on a machine with an RDMA device.
set -uo pipefail
build=$1 program=$2
if compgen -G "/sys/class/infiniband/*" >/dev/null; then
  echo "skipped: this machine has an RDMA device (the conformance suite runs on it instead)"
  exit 77
fi
read -r rdma_url tcp_url <<<"$FASTGPU_SERVER_URLS"
[[ $rdma_url == rdma://* ]] || { echo "the first listener is not rdma:// ($rdma_url)"; exit 1; }
err=$(mktemp)
trap 'rm -f "$err"' EXIT
FASTGPU_SERVER=$rdma_url FASTGPU_TRANSPORT=rdma timeout 30 "$build/bin/fastgpu" run -- "$program" >/dev/null 2>"$err"
status=$?
cat "$err"
if [[ $status -eq 0 || $status -eq 124 ]]; then
  echo "the program over $rdma_url exited $status: expected cuInit to fail"
  exit 1
fi
grep -q "cannot move onto RDMA: .*no RDMA device" "$err" || { echo "no reason given"; exit 1; }
FASTGPU_SERVER=$tcp_url FASTGPU_TRANSPORT=tcp "$build/bin/fastgpu" run -- "$program" >/dev/null 2>"$err" ||
  { cat "$err"; echo "the server did not serve the next client"; exit 1; }
echo "rdma without a device: refused clearly, the server unharmed"
