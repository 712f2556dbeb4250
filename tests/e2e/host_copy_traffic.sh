#!/usr/bin/env bash
# Over shared memory the server copies host memory itself (page-locked memory from the shared
# heap, synchronous pageable copies through its staging chunk): host_copies' 320 MiB each way
# cross the connection as calls only (under 1 MiB); over a socket every byte does.
#   host_copy_traffic.sh BUILD_DIR HOST_COPIES      (run under with_server.sh)
set -euo pipefail
build=$1 program=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if ! FASTGPU_STATS=1 "$build/bin/fastgpu" run -- "$program" >"$work/out" 2>"$work/err"; then
  echo "host_copies failed: $(cat "$work/out" "$work/err")"
  exit 1
fi
grep -qx "host_copies: 320 MiB each way correct" "$work/out" || { echo "host_copies: $(cat "$work/out")"; exit 1; }
sent=$(sed -n 's/^fastgpu: .* bytes sent=\([0-9][0-9]*\).*/\1/p' "$work/err")
[[ $sent =~ ^[0-9]+$ ]] || { echo "no byte count in: $(cat "$work/err")"; exit 1; }
transport=${FASTGPU_E2E_TRANSPORT:-tcp}
if [[ $transport == shm || $transport == tcp-shm || $transport == tcp-auto ]]; then
  ((sent < 1 << 20)) || { echo "over shm, $sent bytes crossed the connection (under 1 MiB expected)"; exit 1; }
else
  ((sent >= 320 << 20)) || { echo "over $transport, only $sent bytes crossed the connection"; exit 1; }
fi
echo "host memory traffic as expected over $transport: $sent bytes sent"
