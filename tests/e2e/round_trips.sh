#!/usr/bin/env bash
# COUNT calls that a program makes in a loop, and one synchronize, cost at most 2 round trips
# more than none: the calls are batched, not answered one by one.
#   round_trips.sh BUILD_DIR COUNT LINE PROGRAM [ARGS...]     (run under with_server.sh)
# The program runs as PROGRAM ARGS... N (N = 0, then COUNT) and must print LINE with {} replaced
# by N.
set -euo pipefail
build=$1 count=$2 line=$3
shift 3
program=("$@")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Runs the program for N calls; prints its round trips. The run must succeed, print its line,
# and the interposer's stats line with a number.
trips() {
  if ! FASTGPU_STATS=1 "$build/bin/fastgpu" run -- "${program[@]}" "$1" >"$work/out" 2>"$work/err"; then
    echo "${program[*]} $1 failed: $(cat "$work/out" "$work/err")" >&2
    return 1
  fi
  local expected=${line//\{\}/$1}
  grep -qxF "$expected" "$work/out" || { echo "${program[*]} $1 did not print '$expected': $(cat "$work/out")" >&2; return 1; }
  local trips
  trips=$(sed -n 's/^fastgpu: round trips=\([0-9][0-9]*\) .*/\1/p' "$work/err")
  [[ $trips =~ ^[0-9]+$ ]] || { echo "no round-trip count in: $(cat "$work/err")" >&2; return 1; }
  echo "$trips"
}
base=$(trips 0)
many=$(trips "$count")
echo "round trips: $base for setup and one synchronize, $many with $count calls"
extra=$((many - base))
if ((base < 1 || extra < 0 || extra > 2)); then
  echo "$count calls cost $extra round trips (0 to 2 allowed; setup took $base)"
  exit 1
fi
echo "$count calls cost $extra extra round trips"
