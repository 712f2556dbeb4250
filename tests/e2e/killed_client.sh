#!/usr/bin/env bash
# A client killed (SIGKILL) in the middle of a 256 MiB copy: the server frees its memory within
# 5 seconds, timed by the clock, and goes on serving.
#   killed_client.sh BUILD_DIR PROBE   (run under with_server.sh)
set -euo pipefail
build=$1 probe=$2
# The device's free memory, as a number (fails the test otherwise).
free_memory() {
  local value
  value=$("$build/bin/fastgpu" run -- "$probe" free)
  [[ $value =~ ^[0-9]+$ ]] || { echo "memory_probe free printed '$value', not a number" >&2; return 1; }
  echo "$value"
}
before=$(free_memory)
exec 4< <(exec "$build/bin/fastgpu" run -- "$probe" copy)
copier=$!
read -r -t 30 -u 4 line || { echo "the copying client did not start"; exit 1; }
[[ $line == copying ]] || { echo "the copying client printed '$line'"; exit 1; }
during=$(free_memory)
echo "free memory: $before before, $during while copying"
if ((during > before - 256 * 1024 * 1024)); then
  echo "the copying client's 256 MiB are not in use while it copies"
  exit 1
fi
kill -KILL "$copier"
killed=$EPOCHREALTIME
# Poll the server's view until 5 seconds after the kill, by the clock.
elapsed() { awk -v now="$EPOCHREALTIME" -v then="$killed" 'BEGIN { printf "%.2f", now - then }'; }
while :; do
  after=$(free_memory)
  if [[ $after == "$before" ]]; then
    echo "the killed client's memory is free again: $after, $(elapsed) s after the kill"
    exit 0
  fi
  if awk -v t="$(elapsed)" 'BEGIN { exit !(t > 5) }'; then break; fi
  sleep 0.05  # polling a remote state between probes, not ordering anything
done
echo "$(elapsed) s after the kill the free memory is $after, not $before"
exit 1
