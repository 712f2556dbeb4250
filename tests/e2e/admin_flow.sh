#!/usr/bin/env bash
# Administration end to end: create a vGPU live, run a client on it, change its quota live, evict
# a session, restart the server and find the vGPU still defined; calls without the token fail.
#   admin_flow.sh BUILD_DIR PROBE
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/common.sh"
FASTGPU_BUILD=$1
probe=$2
fastgpu=$FASTGPU_BUILD/bin/fastgpu
work=$(mktemp -d)
cat >"$work/server.toml" <<TOML
admin_listen = "tcp://127.0.0.1:0"
admin_token = "admin-secret"
state_dir = "$work/state"
TOML
export FASTGPU_SERVER_CONFIG=$work/server.toml FASTGPU_ADMIN_TOKEN=admin-secret FASTGPU_SIM_MEMORY=2GiB

start() {
  start_fastgpu_server "$FASTGPU_BUILD/lib/cudasim/libcuda.so.1"
  local line
  read -r -t 30 -u "$FASTGPU_SERVER_FD" line || { echo "no admin API line"; exit 1; }
  export FASTGPU_ADMIN=${line##* }
}
cleanup() {
  stop_fastgpu_server
  rm -rf "$work"
}
trap cleanup EXIT
start
echo "== admin API at $FASTGPU_ADMIN"

if "$fastgpu" vgpu list --admin-token wrong 2>"$work/refused"; then
  echo "an admin call with a wrong token succeeded"
  exit 1
fi
echo "wrong token refused: $(cat "$work/refused")"

"$fastgpu" vgpu create team-live --memory 512MiB --share 2 --token live-secret
"$fastgpu" run --vgpu team-live --token live-secret -- "$FASTGPU_BUILD/bin/vector_ops" | tail -1
"$fastgpu" vgpu update team-live --memory 256MiB
"$fastgpu" vgpu list | tee "$work/list"
grep -q 'team-live .* 256.0MiB' "$work/list" || { echo "the quota change is not shown"; exit 1; }

# A client holding the whole quota, evicted by the administrator.
exec 5< <(exec "$fastgpu" run --vgpu team-live --token live-secret -- "$probe" copy)
client=$!
read -r -t 30 -u 5 line || { echo "the copying client did not start"; exit 1; }
"$fastgpu" session list | tee "$work/sessions"
id=$(awk '$2 == "team-live" {print $1; exit}' "$work/sessions")
"$fastgpu" session evict "$id"
if wait "$client"; then
  echo "the evicted client kept running"
  exit 1
fi
echo "the evicted client ended"

stop_fastgpu_server
start
"$fastgpu" vgpu list | tee "$work/list"
grep -q 'team-live .* 256.0MiB' "$work/list" || { echo "the vGPU did not survive the restart"; exit 1; }
# Its usage is in the ledger: two sessions (vector_ops and the evicted client), vector_ops' 3 launches.
"$fastgpu" usage --vgpu team-live | tee "$work/usage"
awk '$1 == "team-live" && $2 == 2 && $7 == 3 {found = 1} END {exit !found}' "$work/usage" ||
  { echo "the ledger does not show the vGPU's usage"; exit 1; }
"$fastgpu" top --count 1 --interval 0.1 | tee "$work/top"
grep -q '^team-live ' "$work/top" || { echo "fastgpu top does not show the vGPU"; exit 1; }
echo "admin flow: all steps as expected"
