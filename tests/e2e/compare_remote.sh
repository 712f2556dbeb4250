#!/usr/bin/env bash
# A program's output and exit code through FastGPU must equal its native run on cudasim, and the
# native run must succeed and print MARKER (a grep -E pattern): two runs that fail alike prove
# nothing.
#   compare_remote.sh BUILD_DIR MARKER PROGRAM [ARGS...]     (run under with_server.sh)
set -uo pipefail
build=$1 marker=$2
shift 2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$build/bin/fastgpu" sim -- "$@" >"$work/native.out" 2>"$work/native.err"
native=$?
if [[ $native -ne 0 ]] || ! grep -Eq -- "$marker" "$work/native.out"; then
  echo "the native run failed (exit code $native) or did not print /$marker/:"
  cat "$work/native.out" "$work/native.err"
  exit 1
fi
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
