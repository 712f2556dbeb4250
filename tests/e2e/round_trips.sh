#!/usr/bin/env bash
# 10,000 launches and one cuCtxSynchronize cost at most 2 round trips more than none.
#   round_trips.sh BUILD_DIR LAUNCH_STORM FATBIN      (run under with_server.sh)
set -euo pipefail
build=$1 storm=$2 fatbin=$3
trips() {
  FASTGPU_STATS=1 "$build/bin/fastgpu" run -- "$storm" "$fatbin" "$1" 2>&1 >/dev/null |
    sed -n 's/^fastgpu: round trips=\([0-9]*\).*/\1/p'
}
base=$(trips 0)
storm=$(trips 10000)
echo "round trips: $base for setup and one synchronize, $storm with 10000 launches"
extra=$((storm - base))
if ((extra > 2)); then
  echo "10000 launches cost $extra round trips (at most 2 allowed)"
  exit 1
fi
echo "10000 launches cost $extra extra round trips"
