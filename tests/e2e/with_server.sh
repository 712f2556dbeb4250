#!/usr/bin/env bash
# Runs a command next to a fastgpu-server on cudasim, then stops the server.
#   with_server.sh BUILD_DIR COMMAND [ARGS...]
# The command finds the server's URL in $FASTGPU_SERVER. The server listens on a free loopback
# port; its log goes to stderr. Exits with the command's status.
set -euo pipefail
build=$1
shift
twins=$(find "$build/lib/cudasim/twins" -name '*.so' | sort | paste -sd: -)
exec 3< <(FASTGPU_SIM_KERNELS="$twins${FASTGPU_SIM_KERNELS:+:$FASTGPU_SIM_KERNELS}" FASTGPU_SIM_MEMORY="${FASTGPU_SIM_MEMORY:-4GiB}" \
  exec "$build/bin/fastgpu-server" --listen tcp://127.0.0.1:0 --driver "$build/lib/cudasim/libcuda.so.1" \
  --log-level "${FASTGPU_SERVER_LOG:-warn}")
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true' EXIT
# The server prints one line when it listens; wait for it, at most 30 seconds.
if ! read -r -t 30 -u 3 line; then
  echo "with_server.sh: fastgpu-server did not start" >&2
  exit 1
fi
export FASTGPU_SERVER=${line##* }
"$@"
