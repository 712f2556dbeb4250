#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: builds FastGPU (or uses carried build outputs in build/),
# starts fastgpu-server on the real driver, runs the end-to-end suite through it next to native
# runs, and a PyTorch smoke test when PyTorch is installed. Prints a summary table; record it in
# docs/gpu-results.md with the date.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
if ! have_gpu; then
  echo "gpu-check: no NVIDIA GPU with a working driver here (nvidia-smi -L failed); nothing to check" >&2
  exit 2
fi
if [[ ! -x $FASTGPU_BUILD/bin/fastgpu-server ]]; then
  require_cuda_toolkit
  build_fastgpu
fi
nvidia-smi -L
start_fastgpu_server libcuda.so.1
trap stop_fastgpu_server EXIT
log "fastgpu-server on the real driver at $FASTGPU_SERVER"

declare -a names results
record() {
  names+=("$1")
  results+=("$2")
  printf '%-52s %s\n' "$1" "$2"
}

compare() {  # name, program and arguments: remote output must equal native output
  local name=$1 native remote
  shift
  native=$("$@" 2>&1)
  local nativeStatus=$?
  remote=$(FASTGPU_STATS=1 "$FASTGPU_BUILD/bin/fastgpu" run -- "$@" 2>&1)
  local remoteStatus=$?
  local trips
  trips=$(grep '^fastgpu: round trips' <<<"$remote" || true)
  remote=$(grep -v '^fastgpu: round trips' <<<"$remote")
  if [[ $nativeStatus -eq $remoteStatus && "$native" == "$remote" ]]; then
    record "$name" "PASS (exit $nativeStatus; ${trips#fastgpu: })"
  else
    record "$name" "FAIL (native exit $nativeStatus, remote exit $remoteStatus)"
    diff <(echo "$native") <(echo "$remote") | head -20
  fi
}

for example in vector_ops driver_api errors; do
  compare "$example: remote equals native" "$FASTGPU_BUILD/bin/$example"
done
compare "big_copy: remote equals native" "$FASTGPU_BUILD/tests/big_copy"
if out=$("$FASTGPU_ROOT/tests/e2e/round_trips.sh" "$FASTGPU_BUILD" "$FASTGPU_BUILD/tests/launch_storm" \
  "$FASTGPU_BUILD/tests/data/test_kernels.fatbin" 2>&1); then
  record "10000 launches: extra round trips" "PASS (${out##*cost })"
else
  record "10000 launches: extra round trips" "FAIL: $out"
fi

if python3 -c 'import torch' 2>/dev/null; then
  smoke=$(FASTGPU_STATS=1 timeout 600 "$FASTGPU_BUILD/bin/fastgpu" run -- python3 - <<'PY' 2>&1
import torch
x = torch.randn(256, 256, device="cuda")
y = x @ x
model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1)).cuda()
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
data, target = torch.randn(128, 64, device="cuda"), torch.randn(128, 1, device="cuda")
for step in range(20):
    optimizer.zero_grad()
    loss = torch.nn.functional.mse_loss(model(data), target)
    loss.backward()
    optimizer.step()
print("pytorch smoke test: matmul", tuple(y.shape), "final loss %.4f" % loss.item())
PY
  )
  if grep -q 'pytorch smoke test' <<<"$smoke"; then
    record "PyTorch: randn, matmul, 20 training steps" "PASS ($(grep 'pytorch smoke' <<<"$smoke"))"
  else
    record "PyTorch: randn, matmul, 20 training steps" "FAIL"
    tail -20 <<<"$smoke"
  fi
else
  record "PyTorch: randn, matmul, 20 training steps" "SKIPPED (PyTorch not installed)"
fi

echo
echo "gpu-check summary ($(date -u +%Y-%m-%d), $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -1))"
printf '| %s | %s |\n' "check" "result" "---" "---"
for i in "${!names[@]}"; do printf '| %s | %s |\n' "${names[$i]}" "${results[$i]}"; done
! printf '%s\n' "${results[@]}" | grep -q '^FAIL'
