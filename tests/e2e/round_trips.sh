#!/usr/bin/env bash
# 10,000 launches and one cuCtxSynchronize cost at most 2 round trips more than none.
#   round_trips.sh BUILD_DIR LAUNCH_STORM FATBIN      (run under with_server.sh)
set -euo pipefail
build=$1 storm=$2 fatbin=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Runs the storm with N launches; prints its round trips. The run must succeed, say it launched
# them, and print the interposer's stats line with a number.
trips() {
  if ! FASTGPU_STATS=1 "$build/bin/fastgpu" run -- "$storm" "$fatbin" "$1" >"$work/out" 2>"$work/err"; then
    echo "launch_storm $1 failed: $(cat "$work/out" "$work/err")" >&2
    return 1
  fi
  grep -qx "launched $1 kernels" "$work/out" || { echo "launch_storm $1 did not launch: $(cat "$work/out")" >&2; return 1; }
  local count
  count=$(sed -n 's/^fastgpu: round trips=\([0-9][0-9]*\) .*/\1/p' "$work/err")
  [[ $count =~ ^[0-9]+$ ]] || { echo "no round-trip count in: $(cat "$work/err")" >&2; return 1; }
  echo "$count"
}
base=$(trips 0)
storm=$(trips 10000)
echo "round trips: $base for setup and one synchronize, $storm with 10000 launches"
extra=$((storm - base))
if ((base < 1 || extra < 0 || extra > 2)); then
  echo "10000 launches cost $extra round trips (0 to 2 allowed; setup took $base)"
  exit 1
fi
echo "10000 launches cost $extra extra round trips"
