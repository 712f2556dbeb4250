#!/usr/bin/env bash
# Installs what is missing, builds FastGPU and runs the whole test suite with ctest, then the
# libFuzzer targets for about a minute (scripts/fuzz.sh; FASTGPU_FUZZ_SECONDS per target, 15 by
# default; 0 skips them).
# Usage: scripts/test.sh [extra ctest arguments]
# With FASTGPU_MUTANTS=1 it then runs the mutation check (scripts/mutants.sh, docs/testing.md).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
prepare
log "Running the test suite"
ctest --test-dir "$FASTGPU_BUILD" --output-on-failure -j "$(nproc)" "$@"
if [[ ${FASTGPU_FUZZ_SECONDS:-15} != 0 ]]; then
  "$FASTGPU_ROOT/scripts/fuzz.sh" "${FASTGPU_FUZZ_SECONDS:-15}"
fi
# FASTGPU_MUTANTS=1: also check that the suite kills every deliberate breakage (scripts/mutants.sh).
if [[ ${FASTGPU_MUTANTS:-0} == 1 ]]; then
  "$FASTGPU_ROOT/scripts/mutants.sh"
fi
