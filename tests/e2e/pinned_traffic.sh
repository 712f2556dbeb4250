#!/usr/bin/env bash
# Page-locked memory over shared memory is copied by the server itself: pinned_upload's 256 MiB
# each way cross the connection as calls only (under 1 MiB); over a socket every byte does.
#   pinned_traffic.sh BUILD_DIR PINNED_UPLOAD      (run under with_server.sh)
set -euo pipefail
build=$1 program=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if ! FASTGPU_STATS=1 "$build/bin/fastgpu" run -- "$program" >"$work/out" 2>"$work/err"; then
  echo "pinned_upload failed: $(cat "$work/out" "$work/err")"
  exit 1
fi
grep -qx "pinned_upload: 256 MiB each way correct" "$work/out" || { echo "pinned_upload: $(cat "$work/out")"; exit 1; }
sent=$(sed -n 's/^fastgpu: .* bytes sent=\([0-9][0-9]*\).*/\1/p' "$work/err")
[[ $sent =~ ^[0-9]+$ ]] || { echo "no byte count in: $(cat "$work/err")"; exit 1; }
transport=${FASTGPU_E2E_TRANSPORT:-tcp}
if [[ $transport == shm ]]; then
  ((sent < 1 << 20)) || { echo "over shm, $sent bytes crossed the connection (under 1 MiB expected)"; exit 1; }
else
  ((sent >= 256 << 20)) || { echo "over $transport, only $sent bytes crossed the connection"; exit 1; }
fi
echo "pinned memory traffic as expected over $transport: $sent bytes sent"
