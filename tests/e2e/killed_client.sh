#!/usr/bin/env bash
# A client killed (SIGKILL) in the middle of a 256 MiB copy: the server frees its memory within
# 5 seconds and goes on serving.      killed_client.sh BUILD_DIR PROBE   (run under with_server.sh)
set -euo pipefail
build=$1 probe=$2
run() { "$build/bin/fastgpu" run -- "$probe" "$@"; }
before=$(run free)
exec 4< <(exec "$build/bin/fastgpu" run -- "$probe" copy)
copier=$!
read -r -t 30 -u 4 line || { echo "the copying client did not start"; exit 1; }
during=$(run free)
kill -KILL "$copier"
echo "free memory: $before before, $during while copying"
# Poll the server's view for at most 5 seconds.
for _ in $(seq 50); do
  after=$(run free)
  if [[ $after == "$before" ]]; then
    echo "the killed client's memory is free again: $after"
    exit 0
  fi
  sleep 0.1
done
echo "after 5 seconds the free memory is $after, not $before"
exit 1
