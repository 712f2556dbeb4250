#!/usr/bin/env bash
# Installs what is missing, builds FastGPU and runs the whole test suite with ctest.
# Usage: scripts/test.sh [extra ctest arguments]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
prepare
log "Running the test suite"
ctest --test-dir "$FASTGPU_BUILD" --output-on-failure -j "$(nproc)" "$@"
