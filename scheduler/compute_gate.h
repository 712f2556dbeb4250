// A process's door to the compute gate of one physical GPU (DESIGN.md, decision 9): every piece
// of GPU work of a vGPU session — launches of every kind, copies, memsets — passes it before the
// driver sees it. What goes when is GatePolicy's decision (gate_policy.h: shares, caps,
// priorities, the queue bound), shared by every process through a GateBoard (gate_board.h); this
// class is the process-local shell around it: it blocks session threads until their piece may
// go, and meters each piece with a pair of timing events on its stream (events belong to the
// process that made them), waited for in admission order by its own thread, so the policy
// charges the GPU time it really took.
//
// Threading: admit/submitted/cancel from session threads; the gate's own thread meters.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <set>
#include <memory>
#include <mutex>
#include <thread>

#include "cudaabi/driver_symbols.h"
#include "scheduler/gate_board.h"

namespace fastgpu::scheduler {

// A session's own GPU time: the gate charges each piece of work to its vGPU and to the account
// of the session that sent it (for the usage ledger).
struct GpuTimeAccount {
  std::atomic<std::uint64_t> nanos{0};
  double seconds() const { return static_cast<double>(nanos.load()) * 1e-9; }
};

class ComputeGate {
 public:
  using Clock = GatePolicy::Clock;
  using TenantId = GatePolicy::TenantId;

  // One admitted piece of work on its way to the GPU.
  struct Admission {
    GatePolicy::Ticket ticket;
    CUevent start = nullptr;  // recorded on its stream before the work; null when that failed
  };

  // `driver` records and waits for the metering events; it and `board` must outlive the gate.
  // With `pieces`, the pieces passing this gate are counted there (a worker's session slot), so
  // that they can be taken back if this process dies.
  ComputeGate(const cudaabi::DriverTable& driver, GateBoard& board, GatePieces* pieces = nullptr);
  ~ComputeGate();
  ComputeGate(const ComputeGate&) = delete;
  ComputeGate& operator=(const ComputeGate&) = delete;

  // Blocks until `tenant` may put one piece of work on the GPU, then marks the work's start on
  // `stream` of the current context. Pair with submitted() once the work is queued there, or
  // cancel() when it was not.
  Admission admit(TenantId tenant, CUstream stream);
  // Marks the end of the admitted work on `stream` and meters it; its GPU time is also added to
  // `account` when given.
  void submitted(Admission admission, CUstream stream, GpuTimeAccount* account = nullptr);
  void cancel(Admission admission);
  // This process's session has a replay held at a host point (`held`: from now; else no longer),
  // of `tenant` (gate_policy.h, "Held at the host").
  void holdAtHost(TenantId tenant, bool held);

  GateBoard& board() const { return board_; }

 private:
  struct Metered {
    Admission admission;
    CUevent end;
    GpuTimeAccount* account;
  };

  void runMeter();
  // A timing event recorded on `stream` (in the current context), or null when that failed.
  CUevent record(CUstream stream) const;
  std::optional<double> elapsedSeconds(CUevent start, CUevent end) const;
  void destroy(CUevent event) const;

  // The policy's finish() with this process's bookkeeping, under the board's lock.
  double finish(const GatePolicy::Ticket& ticket, std::optional<GatePolicy::Completion> completion);

  const cudaabi::DriverTable& driver_;
  GateBoard& board_;
  GatePieces* pieces_;  // guarded by the board's lock; may be null
  std::multiset<std::int64_t> onGpuAdmitted_;  // guarded by the board's lock: pieces_->oldestOnGpuNanos
  std::mutex mutex_;
  std::condition_variable metering_;
  std::deque<Metered> metered_;  // guarded by mutex_; in admission order
  bool stopping_ = false;        // guarded by mutex_
  std::thread meter_;
};

// One piece of gated work, for the dispatch code: admits in the constructor; submitted() or,
// when the work never reached the GPU, the destructor cancels. A null gate admits everything.
class GatedWork {
 public:
  GatedWork(ComputeGate* gate, ComputeGate::TenantId tenant, CUstream stream, GpuTimeAccount* account = nullptr)
      : gate_(gate), stream_(stream), account_(account) {
    if (gate_ != nullptr) admission_ = gate_->admit(tenant, stream_);
  }
  ~GatedWork() {
    if (gate_ != nullptr && !done_) gate_->cancel(admission_);
  }
  GatedWork(const GatedWork&) = delete;
  GatedWork& operator=(const GatedWork&) = delete;

  // Call when the driver accepted the work on the stream given to the constructor.
  void submitted() {
    if (gate_ != nullptr && !done_) gate_->submitted(admission_, stream_, account_);
    done_ = true;
  }

 private:
  ComputeGate* gate_;
  CUstream stream_;
  GpuTimeAccount* account_;
  ComputeGate::Admission admission_;
  bool done_ = false;
};

}  // namespace fastgpu::scheduler
