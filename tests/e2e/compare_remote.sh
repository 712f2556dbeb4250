#!/usr/bin/env bash
# An example's output and exit code through FastGPU must equal its native run on cudasim.
#   compare_remote.sh BUILD_DIR PROGRAM [ARGS...]     (run under with_server.sh)
set -uo pipefail
build=$1
shift
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$build/bin/fastgpu" sim -- "$@" >"$work/native.out" 2>"$work/native.err"
native=$?
FASTGPU_STATS=1 "$build/bin/fastgpu" run -- "$@" >"$work/remote.out" 2>"$work/remote.err"
remote=$?
cat "$work/remote.out"
grep '^fastgpu: round trips' "$work/remote.err" || true
if [[ $native -ne $remote ]]; then
  echo "exit codes differ: native $native, remote $remote"
  cat "$work/remote.err"
  exit 1
fi
if ! diff -u "$work/native.out" "$work/remote.out"; then
  echo "outputs differ (native above with -, remote with +)"
  cat "$work/remote.err"
  exit 1
fi
if grep -q '^\[fastgpu\] error' "$work/remote.err"; then
  echo "the interposer logged errors:"
  cat "$work/remote.err"
  exit 1
fi
echo "remote run identical to native run (exit code $remote)"
