// The compute gate's decisions (DESIGN.md, decision 9), without threads, locks or a clock of
// its own: every method takes the time it happens at, so tests drive it with a fake clock and
// the shell (compute_gate.h) drives it with the real one.
//
// - Shares: among tenants of the highest class that want the GPU, the one with the least GPU
//   time per unit of weight (virtual time) goes first. GPU time is charged when a piece
//   completes, so a long piece that could not be preempted is paid back by its owner's later
//   turns: weights hold over windows of about a second whatever the pieces' lengths.
// - Wanting the GPU: a tenant with a piece waiting or on the GPU, or one that went idle less
//   than its anticipation window ago. A client that synchronizes between batches leaves the GPU
//   for a round trip after each; without anticipation a tenant with longer pieces takes the GPU
//   in every such gap and the weights fail (3:1 gave 50:50 with 200 us against 10 ms pieces).
//   The window is learned per tenant from how soon it came back before (twice its recent gaps).
//   A tenant gets none when it comes back slower than kMaxAnticipationSeconds, or when its gaps
//   are long next to its busy spells (more than kMaxGapToBusyRatio): a tenant that mostly
//   thinks must not hold a busy one to its own pace. So the GPU idles only for tenants that are
//   behind, mostly busy, and about to return.
// - Caps: a capped tenant earns GPU time at its cap's rate (a token bucket of kCapBurstSeconds)
//   and waits when it has none, even on an idle GPU.
// - Priority: no piece of a lower class goes while a higher class wants the GPU.
// - The queue: at most about kQueueBudgetSeconds of expected work is on the GPU at once (a piece
//   longer than that goes alone), so a newly arriving piece waits at most for that.
// - Idle credit: a tenant idle for longer than kIdleForgetSeconds comes back level with the
//   least-served busy tenant: nobody saves up GPU time by being idle.
// - Held at the host: while a session of a tenant has a graph replay held at a host point (its
//   client runs a host function, server/host_points.h), the tenant's pieces on the GPU neither
//   fill the queue nor make it want the GPU: a replay waiting for a client does not use the GPU,
//   and must not keep other tenants off it however long the client takes.
//
// Charging: a piece is charged the smaller of its GPU-timed span (start to end event on its
// stream) and the host-observed time since the previous completion or its own admission. The
// first leaves out the host's delays before the work reached the GPU; the second leaves out
// time spent behind another tenant's piece.
//
// Threading: none; the owner serializes every call. Layout: no pointer and no heap memory, so
// that one policy can live in memory shared by processes (the server's workers, gate_board.h).
#pragma once

#include <array>
#include <chrono>
#include <optional>

#include "scheduler/server_config.h"

namespace fastgpu::scheduler {

class GatePolicy {
 public:
  using Clock = std::chrono::steady_clock;
  using TimePoint = Clock::time_point;
  using TenantId = int;

  static constexpr double kQueueBudgetSeconds = 0.002;
  static constexpr double kCapBurstSeconds = 0.05;
  static constexpr double kIdleForgetSeconds = 0.05;
  static constexpr double kMaxAnticipationSeconds = 0.003;
  // Added to twice a tenant's recent gaps: the noise of a busy host.
  static constexpr double kAnticipationSlackSeconds = 0.0001;
  static constexpr double kMaxGapToBusyRatio = 0.5;
  // Tenants (vGPUs) on one GPU at once; a removed tenant's place is reused.
  static constexpr int kMaxTenants = 256;

  struct TenantConfig {
    double weight = 1.0;
    std::optional<double> capFraction;  // 0.25 for a 25% cap
    Priority priority = Priority::kNormal;
  };

  // One admitted piece of work; given back to finish().
  struct Ticket {
    TenantId tenant = -1;
    double estimate = 0;  // seconds it was expected to take when admitted
    TimePoint admitted;
    // Its tenant had work on the GPU already: the piece will most likely start when that
    // work ends, so the host's view of it (time since the previous completion) is exact and
    // it needs no timing of its own start.
    bool behindOwnWork = false;
  };

  // How a piece ended. A piece that never reached the GPU, or could not be metered, has no
  // completion and is charged nothing.
  struct Completion {
    TimePoint done;                     // when the host saw it complete
    std::optional<double> gpuSeconds;  // its span between GPU-timed events, when known
  };

  // A new tenant, or nullopt when kMaxTenants are in use.
  std::optional<TenantId> addTenant(TenantConfig config, TimePoint now);
  // Frees a tenant's place; it must have no piece waiting or on the GPU.
  void removeTenant(TenantId tenant);
  // A live change of weight, cap or priority.
  void updateTenant(TenantId tenant, TenantConfig config, TimePoint now);

  // A piece of `tenant` starts waiting for the GPU.
  void arrive(TenantId tenant, TimePoint now);
  // Whether a waiting piece of `tenant` may go now.
  bool mayAdmit(TenantId tenant, TimePoint now);
  // The waiting piece goes (mayAdmit() said so): it counts as on the GPU from now.
  Ticket admit(TenantId tenant, TimePoint now);
  // The piece of `ticket` is done; returns the seconds charged.
  double finish(const Ticket& ticket, std::optional<Completion> completion, TimePoint now);

  // Pieces of `tenant` whose owner died (a worker process killed or crashed): `waiting` of them
  // were waiting, `onGpu` were admitted with `pendingSeconds` of estimates. They are dropped
  // uncharged: the driver ended their work with the process.
  void abandon(TenantId tenant, int waiting, int onGpu, double pendingSeconds, TimePoint now);

  // A session of `tenant` has a replay held at a host point (`held`), or no longer.
  void holdAtHost(TenantId tenant, bool held);

  // When a waiting piece of `tenant`, refused now, should be looked at again if nothing else
  // happens (a cap's bucket refills, an anticipation window ends); nullopt: only on a change.
  std::optional<TimePoint> recheckAt(TenantId tenant, TimePoint now);

  // GPU time charged to a tenant so far, in seconds.
  double chargedSeconds(TenantId tenant) const;
  int tenantCount() const;
  // When the host last saw a piece complete, if ever.
  std::optional<TimePoint> lastCompletion() const { return lastCompletion_; }

 private:
  struct Tenant {
    bool inUse = false;
    TenantConfig config;
    double charged = 0;      // seconds
    double virtualTime = 0;  // charged / weight, raised when it comes back from a long pause
    double capBudget = 0;    // seconds it may still use (capped tenants)
    TimePoint budgetUpdated;
    // Expected seconds of its next piece: unknown work counts as filling the queue budget, so a
    // new tenant's first pieces go one at a time.
    double estimate = kQueueBudgetSeconds;
    bool measured = false;
    int waiting = 0;
    int onGpu = 0;  // admitted and not finished
    double pendingSeconds = 0;  // the estimates of its pieces on the GPU, not charged yet
    int heldAtHost = 0;         // its sessions with a replay held at a host point
    bool everActive = false;
    TimePoint idleSince;  // when waiting and onGpu last became 0
    // Recent gaps between going idle and coming back, and recent busy spells (from coming back
    // to going idle): seconds, moving averages.
    double comeBackSeconds = kMaxAnticipationSeconds / 4;
    double busySeconds = kMaxAnticipationSeconds;
    TimePoint busySince;
  };

  Tenant& at(TenantId id);
  const Tenant& at(TenantId id) const;
  void refill(Tenant& tenant, TimePoint now);
  bool outOfBudget(Tenant& tenant, TimePoint now);
  double anticipationSeconds(const Tenant& tenant) const;
  // Whether `tenant` wants the GPU now (waiting, on the GPU, or expected back).
  bool wantsGpu(const Tenant& tenant, TimePoint now) const;
  // Marks `tenant` idle at `now` when it has nothing waiting or on the GPU.
  void maybeIdle(Tenant& tenant, TimePoint now);
  // Whether `other` goes before `self` when both want the GPU.
  static bool goesFirst(const Tenant& other, TenantId otherId, const Tenant& self, TenantId selfId);
  void comeBack(Tenant& tenant, TimePoint now);

  // Places [0, tenantEnd_) have been used; those not inUse are free.
  std::array<Tenant, kMaxTenants> tenants_{};
  int tenantEnd_ = 0;
  int onGpuCount_ = 0;
  double onGpuEstimate_ = 0;
  std::optional<TimePoint> lastCompletion_;
  // The virtual time of the latest admitted piece, never decreasing: where a tenant that comes
  // back from a long pause (or a new one) starts.
  double virtualNow_ = 0;
};

}  // namespace fastgpu::scheduler
