#!/usr/bin/env bash
# Administration end to end: create a vGPU live, run a client on it, shrink its quota live and
# see an allocation refused, evict a session, restart the server, find the vGPU and its usage
# and run a client on it again, delete it under a live session; calls without the admin token
# are refused with 401.
#   admin_flow.sh BUILD_DIR PROBE
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/common.sh"
source "$(dirname "${BASH_SOURCE[0]}")/e2e_transport.sh"
FASTGPU_BUILD=$1
probe=$2
fastgpu=$FASTGPU_BUILD/bin/fastgpu
work=$(mktemp -d)
e2e_transport "$work" || exit 2
cat >"$work/server.toml" <<TOML
admin_listen = "tcp://127.0.0.1:0"
admin_token = "admin-secret"
state_dir = "$work/state"
TOML
export FASTGPU_SERVER_CONFIG=$work/server.toml FASTGPU_ADMIN_TOKEN=admin-secret FASTGPU_SIM_MEMORY=2GiB
MiB=$((1024 * 1024))

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
fail() {
  echo "FAILED: $*"
  exit 1
}
# Runs the probe on team-live; its output must match a pattern.
probe_says() {
  local pattern=$1
  shift
  local said
  said=$("$fastgpu" run --vgpu team-live --token live-secret -- "$probe" "$@" 2>&1) || fail "memory_probe $* failed: $said"
  [[ $said =~ $pattern ]] || fail "memory_probe $* printed '$said', expected /$pattern/"
  echo "memory_probe $*: $said"
}
# Starts a client holding 256 MiB and copying to it; sets $client (its pid).
start_copying_client() {
  exec 5< <(exec "$fastgpu" run --vgpu team-live --token live-secret -- "$probe" copy)
  client=$!
  local line
  read -r -t 30 -u 5 line || fail "the copying client did not start"
  [[ $line == copying ]] || fail "the copying client printed '$line'"
}
trap cleanup EXIT
start
echo "== admin API at $FASTGPU_ADMIN"

if "$fastgpu" vgpu list --admin-token wrong 2>"$work/refused"; then fail "an admin call with a wrong token succeeded"; fi
grep -q "failed (401)" "$work/refused" || fail "a wrong admin token was not refused with 401: $(cat "$work/refused")"
echo "wrong token refused: $(cat "$work/refused")"

"$fastgpu" vgpu create team-live --memory 512MiB --share 2 --token live-secret
"$fastgpu" run --vgpu team-live --token live-secret -- "$FASTGPU_BUILD/bin/vector_ops" | tee "$work/vector_ops"
grep -qx "vector_ops: all results correct" "$work/vector_ops" || fail "vector_ops did not run on the new vGPU"
probe_says "^$((512 * MiB))\$" total

# Shrink the quota live: the client sees the new size, and more than it is refused.
"$fastgpu" vgpu update team-live --memory 256MiB
"$fastgpu" vgpu list | tee "$work/list"
grep -q 'team-live .* 256.0MiB' "$work/list" || fail "the quota change is not shown"
probe_says "^$((256 * MiB))\$" total
probe_says "^CUDA_ERROR_OUT_OF_MEMORY\$" alloc $((300 * MiB))
probe_says "^allocated\$" alloc $((200 * MiB))

# A client holding the whole quota, evicted by the administrator.
start_copying_client
"$fastgpu" session list | tee "$work/sessions"
id=$(awk '$2 == "team-live" {print $1; exit}' "$work/sessions")
[[ $id =~ ^[0-9]+$ ]] || fail "no session id for team-live in the list"
"$fastgpu" session evict "$id"
if wait "$client"; then fail "the evicted client kept running"; fi
echo "the evicted client ended"

stop_fastgpu_server
start
"$fastgpu" vgpu list | tee "$work/list"
grep -q 'team-live .* 256.0MiB' "$work/list" || fail "the vGPU did not survive the restart"
# Its usage is in the ledger: the probes, vector_ops (3 launches) and the evicted client.
"$fastgpu" usage --vgpu team-live | tee "$work/usage"
awk '$1 == "team-live" && $2 == 6 && $7 == 3 {found = 1} END {exit !found}' "$work/usage" ||
  fail "the ledger does not show the vGPU's 6 sessions and 3 launches"
"$fastgpu" top --count 1 --interval 0.1 | tee "$work/top"
grep -q '^team-live ' "$work/top" || fail "fastgpu top does not show the vGPU"
# Clients run on it after the restart, with the quota it had.
probe_says "^$((256 * MiB))\$" total

# Deleting the vGPU ends its live session and refuses new ones.
start_copying_client
"$fastgpu" vgpu delete team-live
if wait "$client"; then fail "a client of the deleted vGPU kept running"; fi
echo "the deleted vGPU's client ended"
"$fastgpu" vgpu list | tee "$work/list"
if grep -q '^team-live ' "$work/list"; then fail "the deleted vGPU is still listed"; fi
if "$fastgpu" run --vgpu team-live --token live-secret -- "$probe" total >"$work/refused" 2>&1; then
  fail "a client of the deleted vGPU was admitted"
fi
grep -q 'refused the session' "$work/refused" || fail "the refusal does not say why: $(cat "$work/refused")"
echo "admin flow: all steps as expected"
