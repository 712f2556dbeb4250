#!/usr/bin/env bash
# A frozen server (SIGSTOP on the main process and the session's worker): a client in the middle
# of its work, and a client starting, each get a CUDA error within their FASTGPU_TIMEOUT (2 s
# here) instead of hanging; the server goes on once it is thawed.
#   frozen_server.sh BUILD_DIR PROBE   (run under with_server.sh)
set -euo pipefail
build=$1 probe=$2
export FASTGPU_TIMEOUT=2
since() { awk -v now="$EPOCHREALTIME" -v then="$1" 'BEGIN { printf "%.2f", now - then }'; }

exec 4< <(exec "$build/bin/fastgpu" run -- "$probe" copy 2>&1)
read -r -t 30 -u 4 line || { echo "the copying client did not start"; exit 1; }
[[ $line == copying ]] || { echo "the copying client printed '$line'"; exit 1; }
worker=$(pgrep -P "$FASTGPU_SERVER_PID" | head -1)
[[ -n $worker ]] || { echo "no worker process under the server"; exit 1; }
trap 'kill -CONT "$FASTGPU_SERVER_PID" "$worker" 2>/dev/null || true' EXIT
kill -STOP "$FASTGPU_SERVER_PID" "$worker"
frozen=$EPOCHREALTIME

# Mid-run: the copying client's next call fails, within the timeout and a chunk's time.
output=$(timeout 20 cat <&4) || true
echo "mid-run, after $(since "$frozen") s: $output"
grep -q "copy failed: CUDA_ERROR_DEVICE_UNAVAILABLE" <<<"$output" || { echo "the copying client did not fail as expected"; exit 1; }
grep -q "FASTGPU_TIMEOUT" <<<"$output" || { echo "the client did not say why"; exit 1; }
awk -v t="$(since "$frozen")" 'BEGIN { exit !(t < 6) }' || { echo "too slow"; exit 1; }

# In cuInit: a new client fails within the timeout too.
started=$EPOCHREALTIME
if output=$("$build/bin/fastgpu" run -- "$probe" free 2>&1); then
  echo "a client started against a frozen server: $output"
  exit 1
fi
echo "in cuInit, after $(since "$started") s: $output"
grep -q "did not complete the handshake" <<<"$output" || { echo "cuInit did not say why"; exit 1; }
awk -v t="$(since "$started")" 'BEGIN { exit !(t < 5) }' || { echo "too slow"; exit 1; }

# Thawed, the server serves again.
kill -CONT "$FASTGPU_SERVER_PID" "$worker"
free=$("$build/bin/fastgpu" run -- "$probe" free)
[[ $free =~ ^[0-9]+$ ]] || { echo "the thawed server did not serve: $free"; exit 1; }
echo "a frozen server is reported within the timeout, mid-run and in cuInit"
