// The shared half of a GPU's compute gate (DESIGN.md, decisions 3 and 9): its GatePolicy, the
// lock around it and the signal that wakes waiting pieces, in memory that the server's main
// process and every session worker map (shared_board.h). The main process adds, changes and
// removes tenants (vGPUs); each worker's ComputeGate (compute_gate.h) admits and charges its own
// session's pieces here, without a round trip to the main process.
//
// Threading: every method from any thread of any process mapping the board.
#pragma once

#include <mutex>

#include "scheduler/gate_policy.h"
#include "cudaabi/process_shared.h"

namespace fastgpu::scheduler {

// One session's pieces at a gate, kept beside the policy (under the same lock) so that the
// main process can take them back when the session's worker dies with pieces in flight.
struct GatePieces {
  int waiting = 0;
  int onGpu = 0;
  double pendingSeconds = 0;         // the estimates of its admitted pieces
  std::int64_t oldestOnGpuNanos = 0;  // steady clock: when its oldest piece on the GPU was admitted
  bool heldAtHost = false;             // a replay of the session is held at a host point
  std::int64_t resumedNanos = 0;       // steady clock: when the last hold ended
};

class GateBoard {
 public:
  using TenantId = GatePolicy::TenantId;
  using TenantConfig = GatePolicy::TenantConfig;
  using Clock = GatePolicy::Clock;

  // nullopt when the GPU has GatePolicy::kMaxTenants tenants already.
  std::optional<TenantId> addTenant(TenantConfig config);
  // Live change of a tenant's weight, cap or priority; waiting pieces see it at once.
  void updateTenant(TenantId tenant, TenantConfig config);
  // When its last session is gone.
  void removeTenant(TenantId tenant);
  // The pieces of a session whose worker died are dropped (uncharged) and `pieces` cleared.
  void abandon(TenantId tenant, GatePieces& pieces);
  // GPU time charged to a tenant so far.
  double gpuSeconds(TenantId tenant) const;
  // How long the oldest piece of a session (`pieces`) has been running, as far as the host can
  // tell: since its admission, the latest completion on the GPU after it or the end of the
  // session's last hold at a host point, whichever is latest (before that it was queued behind
  // other work, or waited for its client). nullopt when it has nothing on the GPU or is held.
  std::optional<double> runningSeconds(const GatePieces& pieces) const;

 private:
  friend class ComputeGate;
  mutable ProcessMutex mutex_;
  ChangeSignal changed_;  // notified with mutex_ held on every change
  GatePolicy policy_;     // guarded by mutex_
};

}  // namespace fastgpu::scheduler
