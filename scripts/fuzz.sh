#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with Debian's clang-14 in their own build tree and runs each
# briefly on the checked-in corpus (fuzz/corpus/TARGET): 15 s each, about 60 s in all, by default. A crash, a
# leak, undefined behaviour or a hang fails; the input is left in $FASTGPU_FUZZ_BUILD/artifacts:
# make it a regression test and add it to the corpus.
#   scripts/fuzz.sh [SECONDS_PER_TARGET]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
seconds=${1:-15}
FASTGPU_FUZZ_BUILD=${FASTGPU_FUZZ_BUILD:-$FASTGPU_ROOT/build-fuzz}
command -v clang++-14 >/dev/null || { echo "error: clang++-14 is missing (Debian: clang-14 libclang-rt-14-dev)" >&2; exit 1; }
log "Building the fuzz targets in $FASTGPU_FUZZ_BUILD"
cmake -S "$FASTGPU_ROOT" -B "$FASTGPU_FUZZ_BUILD" -G Ninja -DFASTGPU_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 -DFASTGPU_CUDA_ROOT="$FASTGPU_CUDA_ROOT" >/dev/null
cmake --build "$FASTGPU_FUZZ_BUILD" -j "$(nproc)" --target fuzz_frames fuzz_dispatch fuzz_config fuzz_admin
mkdir -p "$FASTGPU_FUZZ_BUILD/artifacts"
for target in frames dispatch config admin; do
  log "Fuzzing $target for ${seconds}s"
  # New inputs go to a scratch directory: the checked-in corpus is only read.
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
    "$FASTGPU_FUZZ_BUILD/bin/fuzz_$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 \
    -max_len=65536 -print_final_stats=1 -artifact_prefix="$FASTGPU_FUZZ_BUILD/artifacts/$target-" \
    "$scratch" "$FASTGPU_ROOT/fuzz/corpus/$target" 2>&1 | tail -n 12
  rm -rf "$scratch"
done
log "Fuzzing found nothing"
