// The compute gate of one physical GPU (DESIGN.md, decision 9): every piece of GPU work of a
// vGPU session — launches of every kind, copies, memsets — passes it before the driver sees it.
//
// - Metering: each admitted piece of work is followed by an event; a gate thread waits for the
//   events in admission order and charges each piece the time from the later of its admission and
//   the previous completion to its own completion: the GPU time it actually took. A huge kernel
//   is charged in full, and its owner waits for its next turn accordingly.
// - Shares: among waiting tenants of the highest waiting priority class, the one with the least
//   GPU time per unit of weight goes first (weighted fair queueing); idle capacity goes to whoever
//   has work (work-conserving).
// - Caps: a capped tenant earns GPU time at its cap's rate (a token bucket) and waits when it has
//   none, even on an idle GPU.
// - Priority: no work of a lower class is admitted while work of a higher class waits, and the
//   work on the GPU is bounded (about kQueueBudgetMicros of expected time), so a high-priority
//   launch waits at most for work already on the GPU.
//
// Threading: admit/submitted/cancel from session threads; the gate's own thread meters.
#pragma once

#include <chrono>
#include <condition_variable>
#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cudaabi/driver_symbols.h"
#include "scheduler/server_config.h"

namespace fastgpu::scheduler {

// A session's own GPU time: the gate charges each piece of work to its vGPU and to the account
// of the session that sent it (for the usage ledger).
struct GpuTimeAccount {
  std::atomic<std::uint64_t> nanos{0};
  double seconds() const { return static_cast<double>(nanos.load()) * 1e-9; }
};

class ComputeGate {
 public:
  using Clock = std::chrono::steady_clock;
  using TenantId = int;
  static constexpr double kQueueBudgetMicros = 2000;
  static constexpr double kCapBurstSeconds = 0.05;
  // A tenant idle longer than this loses the credit it had (no saving up GPU time while idle);
  // shorter pauses, such as a client's round trip between batches, keep it.
  static constexpr double kIdleForgetSeconds = 0.05;

  struct TenantConfig {
    std::string name;
    double weight = 1.0;
    std::optional<double> capFraction;  // 0.25 for a 25% cap
    Priority priority = Priority::kNormal;
  };

  explicit ComputeGate(const cudaabi::DriverTable& driver);
  ~ComputeGate();
  ComputeGate(const ComputeGate&) = delete;
  ComputeGate& operator=(const ComputeGate&) = delete;

  TenantId addTenant(TenantConfig config);
  // Live change of a tenant's weight, cap or priority.
  void updateTenant(TenantId tenant, TenantConfig config);

  // Blocks until `tenant` may put one piece of work on the GPU. Pair with submitted() once the
  // work is queued on `stream` of the current context, or cancel() when it was not.
  void admit(TenantId tenant);
  // Records the completion event of the admitted work on `stream` (in the current context);
  // its GPU time will also be added to `account` when given.
  void submitted(TenantId tenant, CUstream stream, std::shared_ptr<GpuTimeAccount> account = nullptr);
  void cancel(TenantId tenant);

  // GPU time charged to a tenant so far.
  double gpuSeconds(TenantId tenant) const;

 private:
  struct Tenant {
    TenantConfig config;
    double charged = 0;       // seconds
    double virtualTime = 0;   // charged / weight, adjusted when the tenant becomes busy
    double capBudget = 0;     // seconds it may still use (capped tenants)
    Clock::time_point budgetUpdated = Clock::now();
    // Expected seconds of its next piece of work: unknown work counts as filling the queue
    // budget, so a new tenant's first pieces go one at a time.
    double estimate = kQueueBudgetMicros * 1e-6;
    bool measured = false;
    int waiting = 0;
    int inFlight = 0;
    Clock::time_point idleSince = Clock::now();  // when waiting and inFlight last became 0
  };
  struct InFlight {
    TenantId tenant;
    CUevent event;
    Clock::time_point admitted;
    double estimate;
    std::shared_ptr<GpuTimeAccount> account;
  };

  bool mayAdmit(TenantId tenant, Clock::time_point now);
  // A piece of work of `tenant`, admitted with `estimate`, is done (completed, cancelled, or not
  // meterable); the lock is held.
  void finishLocked(Tenant& tenant, double estimate, Clock::time_point when);
  void refill(Tenant& tenant, Clock::time_point now);
  void runMeter();

  const cudaabi::DriverTable& driver_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Tenant> tenants_;
  std::deque<InFlight> inFlight_;
  // Per tenant: the admission awaiting submitted() (its time and the estimate it was admitted with).
  struct Admission {
    Clock::time_point at;
    double estimate = 0;
  };
  std::vector<Admission> admitted_;
  // Work admitted and not yet complete, from admission on: counting only submitted work would let
  // a second piece in between another's admission and its submission.
  int inFlightCount_ = 0;
  double inFlightEstimate_ = 0;
  Clock::time_point lastCompletion_ = Clock::now();
  bool stopping_ = false;
  std::thread meter_;
};

// One piece of gated work, for the dispatch code: admits in the constructor; submitted() or,
// when the work never reached the GPU, the destructor cancels. A null gate admits everything.
class GatedWork {
 public:
  GatedWork(ComputeGate* gate, ComputeGate::TenantId tenant, std::shared_ptr<GpuTimeAccount> account = nullptr)
      : gate_(gate), tenant_(tenant), account_(std::move(account)) {
    if (gate_ != nullptr) gate_->admit(tenant_);
  }
  ~GatedWork() {
    if (gate_ != nullptr && !done_) gate_->cancel(tenant_);
  }
  GatedWork(const GatedWork&) = delete;
  GatedWork& operator=(const GatedWork&) = delete;

  // Call when the driver accepted the work on `stream`.
  void submitted(CUstream stream) {
    if (gate_ != nullptr && !done_) gate_->submitted(tenant_, stream, account_);
    done_ = true;
  }

 private:
  ComputeGate* gate_;
  ComputeGate::TenantId tenant_;
  std::shared_ptr<GpuTimeAccount> account_;
  bool done_ = false;
};

}  // namespace fastgpu::scheduler
