#!/usr/bin/env bash
# Mutation check: applies deliberate breakages, one at a time, to a copy of the tree and
# confirms the test suite fails for each ("kills" it). A mutant that survives is a guarantee the
# suite does not guard. Run by scripts/test.sh when FASTGPU_MUTANTS=1, or alone:
#   scripts/mutants.sh [NAME...]      (default: every mutant)
# It builds the copy in $FASTGPU_BUILD/mutants (the first build takes as long as a normal one;
# each mutant then rebuilds what it touches) and prints one line per mutant. Exit status: 0 when
# every mutant was killed.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

copy=$FASTGPU_BUILD/mutants/tree
build=$FASTGPU_BUILD/mutants/build

# mutant NAME FILE OLD NEW WHAT: in FILE, the one occurrence of OLD becomes NEW; WHAT it breaks.
names=() files=() olds=() news=() whats=()
mutant() { names+=("$1") files+=("$2") olds+=("$3") news+=("$4") whats+=("$5"); }

mutant drop-deferred-errors server/session.cpp \
  '        deferred_ = result;' '        (void)result;' 'the server forgets errors of posted calls'
mutant interposer-drops-deferred-errors interposer/client.cpp \
  'CUresult Client::takeDeferredError() { return deferred_.exchange(CUDA_SUCCESS); }' \
  'CUresult Client::takeDeferredError() { return CUDA_SUCCESS; }' 'the interposer never reports deferred errors'
mutant gate-charges-fixed-work scheduler/gate_policy.cpp \
  '    if (completion->gpuSeconds) used = std::min(used, std::max(0.0, *completion->gpuSeconds));' \
  '    used = kQueueBudgetSeconds;' 'the gate charges every piece 2 ms'
mutant gate-charges-host-delays scheduler/gate_policy.cpp \
  '    if (completion->gpuSeconds) used = std::min(used, std::max(0.0, *completion->gpuSeconds));' '' \
  'the gate charges from admission, host delays included'
mutant gate-no-anticipation scheduler/gate_policy.h \
  'kMaxAnticipationSeconds = 0.003;' 'kMaxAnticipationSeconds = 0.0;' \
  'a synchronizing tenant loses its turn in every round trip'
mutant gate-keeps-idle-credit scheduler/gate_policy.cpp \
  'tenant.virtualTime = std::max(tenant.virtualTime, virtualNow_);' \
  'tenant.virtualTime = std::max(tenant.virtualTime, 0.0);' 'a tenant saves up GPU time while idle'
mutant gate-counts-work-from-submission scheduler/gate_policy.cpp \
  '  onGpuEstimate_ += tenant.estimate;' '' 'admitted work does not fill the queue until it completes'
mutant gate-ignores-priority scheduler/gate_policy.cpp \
  '  if (theirs != mine) return theirs < mine;' '  if (false && theirs != mine) return theirs < mine;' \
  'priority classes are ignored'
mutant gate-ignores-caps scheduler/gate_policy.cpp \
  '  if (!tenant.config.capFraction) return false;' '  return false;' 'caps are ignored'
mutant skip-2d-range-check server/session_state.cpp \
  '  auto extent = cudaabi::pitchedExtent(pitch, rowBytes, height);' \
  $'  return Status::ok();\n  auto extent = cudaabi::pitchedExtent(pitch, rowBytes, height);' \
  '2-D copies and memsets reach any memory'
mutant wrapping-2d-extent cudaabi/checked_math.h \
  '  if (__builtin_mul_overflow(a, b, &product)) return std::nullopt;' '  product = a * b;' '2-D sizes wrap around'
mutant skip-1d-range-check server/session_state.cpp \
  '    if (address - base < range.bytes && bytes <= range.bytes - (address - base)) return Status::ok();' \
  '    if (address - base < range.bytes || bytes > 0) return Status::ok();' 'copies reach past their allocation'
mutant keep-ranges-of-unloaded-code server/session_state.cpp \
  ') forgetGlobals(id);' ') (void)id;' 'globals of unloaded modules stay writable'
mutant handles-of-any-kind server/session_state.cpp \
  '  if (it == handles_.end() || kindOf(id) != kind) {' '  if (it == handles_.end()) {' \
  'a stream id is accepted as an event'
mutant skip-quota server/session_state.cpp \
  '  if (Status reserved = lease_->reserve(bytes); !reserved) return reserved;' '  (void)lease_->reserve(0);' \
  "allocations ignore the vGPU's quota"
mutant bulk-size-wraps protocol/message.cpp \
  '  std::uint64_t words = bytes / sizeof(capnp::word) + (bytes % sizeof(capnp::word) != 0 ? 1 : 0);' \
  '  std::uint64_t words = (bytes + sizeof(capnp::word) - 1) / sizeof(capnp::word);' 'announced bulk sizes wrap'
mutant no-nesting-limit protocol/message.cpp \
  '  options.nestingLimit = kNestingLimit;' '' 'forged messages nest without limit'
mutant reuse-parent-connection-after-fork interposer/runtime.cpp \
  '  if (pid_ != 0 && pid_ != getpid()) {' '  if (false) {' "a forked child talks on its parent's connection"
mutant tls-client-trusts-any-server protocol/transport/tls_context.cpp \
  '  SSL_CTX_set_verify(context->get(), SSL_VERIFY_PEER, nullptr);' \
  '  SSL_CTX_set_verify(context->get(), SSL_VERIFY_NONE, nullptr);' 'a tls:// client accepts any server certificate'
mutant tls-client-ignores-server-name protocol/transport/tls_stream.cpp \
  '    if (!expectServerName(ssl, serverName)) {' '    if (serverName.empty() && !expectServerName(ssl, serverName)) {' \
  'a tls:// client accepts a certificate for another host'
mutant launch-event-copied-raw server/launch_attributes.cpp \
  '      return translateEvent(attribute.value.launchCompletionEvent.event, event);' '      return Status::ok();' \
  "a launch attribute's event reaches the driver as the client's raw bytes"
mutant no-batch-timer interposer/client.cpp \
  '        std::chrono::steady_clock::now() >= due) {' '        false) {' \
  'posted calls wait for the next synchronizing call'
mutant host-ranges-may-overlap interposer/runtime.cpp \
  '  if (next != hostRanges_.end() && next->first - base < range.bytes) return false;' '' \
  'overlapping host registrations are accepted'

# Replaces the one occurrence of OLD in FILE with NEW.
mutate() {
  python3 - "$1" "$2" "$3" <<'PY'
import sys
path, old, new = sys.argv[1], sys.argv[2], sys.argv[3]
text = open(path).read()
count = text.count(old)
if count != 1:
    sys.exit(f"the mutant's text occurs {count} times in {path} (expected once): update scripts/mutants.sh")
open(path, "w").write(text.replace(old, new))
PY
}

# Brings the copy up to date with the tree (tracked and new files, not ignored ones), copying
# only what differs, so that a second run rebuilds only what changed (a restored mutant is newer
# than its object: rebuilt).
log "Updating the copy of the tree in $copy"
mkdir -p "$copy"
(cd "$FASTGPU_ROOT" && git ls-files -z --cached --others --exclude-standard) | while IFS= read -r -d '' path; do
  if ! cmp -s "$FASTGPU_ROOT/$path" "$copy/$path"; then
    mkdir -p "$(dirname "$copy/$path")"
    cp "$FASTGPU_ROOT/$path" "$copy/$path"
  fi
done
log "Building the copy in $build"
cmake -S "$copy" -B "$build" -G Ninja -DFASTGPU_CUDA_ROOT="$FASTGPU_CUDA_ROOT" >/dev/null
cmake --build "$build" -j "$(nproc)" >/dev/null

wanted=("$@")
survived=0
results=()
for i in "${!names[@]}"; do
  name=${names[$i]} file=${files[$i]} what=${whats[$i]}
  if ((${#wanted[@]} > 0)) && [[ ! " ${wanted[*]} " =~ " $name " ]]; then continue; fi
  cp "$copy/$file" "$copy/$file.orig"
  mutate "$copy/$file" "${olds[$i]}" "${news[$i]}"
  log "Mutant $name: $what"
  if ! cmake --build "$build" -j "$(nproc)" >"$build/mutant-build.log" 2>&1; then
    mv "$copy/$file.orig" "$copy/$file"
    touch "$copy/$file"
    echo "error: mutant $name does not build (see $build/mutant-build.log)" >&2
    exit 2
  fi
  if ctest --test-dir "$build" -j "$(nproc)" --stop-on-failure >"$build/mutant-$name.log" 2>&1; then
    line="SURVIVED  $name: $what"
    survived=$((survived + 1))
  else
    killer=$(grep -E '\*\*\*(Failed|Timeout|Exception)|\(Failed\)' "$build/mutant-$name.log" | head -1 |
      sed -E 's/^ *[0-9]+\/[0-9]+ Test +#[0-9]+: ([^ ]+).*/\1/; s/^\s*[0-9]+ - ([^ ]+).*/\1/')
    line="killed    $name by ${killer:-the suite}"
  fi
  results+=("$line")
  echo "$line"
  mv "$copy/$file.orig" "$copy/$file"
  touch "$copy/$file"  # newer than what the mutant built, so the next build takes it back
done
cmake --build "$build" -j "$(nproc)" >/dev/null  # back to the unmutated tree for the next run

log "Mutants: ${#results[@]} run, $((${#results[@]} - survived)) killed, $survived survived"
printf '%s\n' "${results[@]}"
((survived == 0))
