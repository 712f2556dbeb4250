#!/usr/bin/env bash
# Runs a command next to a fastgpu-server on cudasim, then stops the server.
#   with_server.sh BUILD_DIR COMMAND [ARGS...]
# The command finds the server's URL in $FASTGPU_SERVER. Exits with the command's status.
# FASTGPU_E2E_TRANSPORT picks the transport (e2e_transport.sh); default: tcp.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/common.sh"
source "$(dirname "${BASH_SOURCE[0]}")/e2e_transport.sh"
FASTGPU_BUILD=$1
shift
export FASTGPU_SIM_MEMORY=${FASTGPU_SIM_MEMORY:-4GiB}
export FASTGPU_SERVER_GRACE=${FASTGPU_SERVER_GRACE:-0}  # a test's clients are done, or to be cut off
socket_dir=$(mktemp -d)
e2e_transport "$socket_dir" || exit 2
trap 'stop_fastgpu_server; rm -rf "$socket_dir"' EXIT
start_fastgpu_server "$FASTGPU_BUILD/lib/cudasim/libcuda.so.1"
"$@"
