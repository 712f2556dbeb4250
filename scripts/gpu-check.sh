#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: starts fastgpu-server on the real driver with one 24 GiB vGPU,
# runs every example and end-to-end program natively and through FastGPU, and, when PyTorch is
# installed, the PyTorch suite (tests/gpu/torch_suite.py) both ways. Prints one table; record it
# in docs/gpu-results.md with the date. Runs from the extracted bundle (scripts/bundle.sh; no
# compiler needed) or from a source tree, which it builds first. FASTGPU_CHECK_LOG=FILE collects
# the output of what failed.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
set +e  # a failing check is a row of the table, never the end of the script
if ! have_gpu; then
  echo "gpu-check: no NVIDIA GPU with a working driver here (nvidia-smi -L failed); nothing to check" >&2
  exit 2
fi
if [[ ! -x $FASTGPU_BUILD/bin/fastgpu-server ]]; then
  require_cuda_toolkit
  build_fastgpu
fi
nvidia-smi -L
# One vGPU with a memory quota well under the GPU's, so that the vGPU's view (device memory, OOM)
# differs from the native one and can be checked.
vgpu_quota=$((24 << 30))
config=$(mktemp)
cat >"$config" <<TOML
[[vgpu]]
name = "gpu-check"
memory = "24GiB"
tokens = ["gpu-check"]
TOML
export FASTGPU_TOKEN=gpu-check FASTGPU_VGPU=gpu-check
FASTGPU_SERVER_CONFIG=$config start_fastgpu_server libcuda.so.1
trap 'stop_fastgpu_server; rm -f "$config"' EXIT
log "fastgpu-server on the real driver at $FASTGPU_SERVER"
log "transport: ${FASTGPU_TRANSPORT:-shared memory (this host; FASTGPU_TRANSPORT=tcp checks TCP instead)}"

declare -a names results
record() {
  names+=("$1")
  results+=("$2")
  printf '%-52s %s\n' "$1" "$2"
}

compare() {  # name, program and arguments: remote output must equal native output
  local name=$1 native remote
  shift
  local nativeStatus=0 remoteStatus=0
  native=$("$@" 2>&1) || nativeStatus=$?
  remote=$(FASTGPU_STATS=1 "$FASTGPU_BUILD/bin/fastgpu" run -- "$@" 2>&1) || remoteStatus=$?
  local trips
  trips=$(grep '^fastgpu: round trips' <<<"$remote" || true)
  remote=$(grep -v '^fastgpu: round trips' <<<"$remote" || true)
  if [[ $nativeStatus -eq $remoteStatus && "$native" == "$remote" ]]; then
    record "$name" "PASS (exit $nativeStatus; ${trips#fastgpu: })"
  else
    record "$name" "FAIL (native exit $nativeStatus, remote exit $remoteStatus)"
    diff <(echo "$native") <(echo "$remote") | head -20
    if ((nativeStatus >= 128)); then  # a crash loses buffered output: where did it stop?
      echo "the native run died of signal $((nativeStatus - 128)) after these lines:"
      stdbuf -oL "$@" 2>&1 | tail -3
    fi
  fi
}

for example in vector_ops driver_api errors; do
  compare "$example: remote equals native" "$FASTGPU_BUILD/bin/$example"
done
compare "big_copy: remote equals native" "$FASTGPU_BUILD/tests/big_copy"
compare "async_errors: remote equals native" "$FASTGPU_BUILD/tests/async_errors" "$FASTGPU_BUILD/tests/data/test_kernels.fatbin"
compare "framework_queries: remote equals native" "$FASTGPU_BUILD/tests/framework_queries"
compare "expandable_segments: remote equals native" "$FASTGPU_BUILD/tests/expandable_segments" "$FASTGPU_BUILD/tests/data/test_kernels.fatbin"
compare "stream_ordered: remote equals native" "$FASTGPU_BUILD/tests/stream_ordered" "$FASTGPU_BUILD/tests/data/test_kernels.fatbin"
# Graphs captured and built, a capture's dependencies, a TMA descriptor in a kernel, device printf,
# linking at run time (the real driver's linker).
for program in graphs graph_nodes capture_dependencies tensor_map device_output link; do
  compare "$program: remote equals native" "$FASTGPU_BUILD/tests/$program" "$FASTGPU_BUILD/tests/data/test_kernels.fatbin"
done
# Graph nodes changed after they were made, 2-D/3-D copies of any size, VMM memory shared between
# two processes as POSIX descriptors (worker to worker through pidfd_getfd on a real GPU).
for program in graph_node_updates strided_copies shareable_memory; do
  compare "$program: remote equals native" "$FASTGPU_BUILD/tests/$program"
done
# FastGPU's NVML inside the vGPU (not the host's NVML): the quota, the session's memory, metering.
if out=$("$FASTGPU_BUILD/bin/fastgpu" run -- "$FASTGPU_BUILD/tests/nvml_probe" remote 2>&1) && \
  grep -q '^nvml_probe: all checks passed$' <<<"$out"; then
  record "nvml_probe: NVML describes the vGPU" "PASS"
else
  record "nvml_probe: NVML describes the vGPU" "FAIL: $(grep -m3 -E 'FAILED|failed' <<<"$out" | tr '\n' ' ')"
fi
if out=$("$FASTGPU_ROOT/tests/e2e/round_trips.sh" "$FASTGPU_BUILD" "$FASTGPU_BUILD/tests/launch_storm" \
  "$FASTGPU_BUILD/tests/data/test_kernels.fatbin" 2>&1); then
  record "10000 launches: extra round trips" "PASS (${out##*cost })"
else
  record "10000 launches: extra round trips" "FAIL: $out"
fi

if python3 -c 'import torch' 2>/dev/null; then
  # Rows of its own: every case natively and remotely, compared (tests/gpu/torch_suite.py).
  while IFS= read -r row; do
    [[ $row == '| '* ]] || continue
    row=${row#| }
    row=${row% |}
    record "${row%% | *}" "${row#* | }"
  done < <(python3 "$FASTGPU_ROOT/tests/gpu/torch_suite.py" --fastgpu "$FASTGPU_BUILD/bin/fastgpu" \
    --quota "$vgpu_quota" --deadline "${FASTGPU_CHECK_TORCH_SECONDS:-330}" \
    ${FASTGPU_CHECK_LOG:+--log "$FASTGPU_CHECK_LOG"} || true)
else
  record "PyTorch suite" "SKIPPED (PyTorch not installed)"
fi

echo
echo "gpu-check summary ($(date -u +%Y-%m-%d), $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -1))"
printf '| %s | %s |\n' "check" "result" "---" "---"
for i in "${!names[@]}"; do printf '| %s | %s |\n' "${names[$i]}" "${results[$i]}"; done
! printf '%s\n' "${results[@]}" | grep -q '^FAIL'
