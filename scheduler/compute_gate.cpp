#include "scheduler/compute_gate.h"

namespace fastgpu::scheduler {
namespace {

std::int64_t nanosOf(GatePolicy::Clock::time_point when) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(when.time_since_epoch()).count();
}

}  // namespace

ComputeGate::ComputeGate(const cudaabi::DriverTable& driver, GateBoard& board, GatePieces* pieces)
    : driver_(driver), board_(board), pieces_(pieces) {
  meter_ = std::thread([this] { runMeter(); });
}

ComputeGate::~ComputeGate() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  metering_.notify_all();
  meter_.join();
}

ComputeGate::Admission ComputeGate::admit(TenantId tenant, CUstream stream) {
  Admission admission;
  {
    std::unique_lock lock(board_.mutex_);
    board_.policy_.arrive(tenant, Clock::now());
    if (pieces_ != nullptr) ++pieces_->waiting;
    for (;;) {
      Clock::time_point now = Clock::now();
      if (board_.policy_.mayAdmit(tenant, now)) {
        admission.ticket = board_.policy_.admit(tenant, now);
        if (pieces_ != nullptr) {
          --pieces_->waiting;
          ++pieces_->onGpu;
          pieces_->pendingSeconds += admission.ticket.estimate;
          onGpuAdmitted_.insert(nanosOf(admission.ticket.admitted));
          pieces_->oldestOnGpuNanos = *onGpuAdmitted_.begin();
        }
        break;
      }
      // Woken by every completion and change, in any process; some refusals end by themselves
      // (a cap's bucket refills, an anticipation window closes), and those say when.
      std::optional<Clock::time_point> recheck = board_.policy_.recheckAt(tenant, now);
      std::uint32_t seen = board_.changed_.generation();
      lock.unlock();
      board_.changed_.wait(seen, recheck);
      lock.lock();
    }
  }
  // A timing event right before the work: its span to the end event is the work's GPU time.
  // Work queued behind the tenant's own does without (one event less per launch in a stream of
  // launches: 30% more launches per second).
  if (!admission.ticket.behindOwnWork) admission.start = record(stream);
  return admission;
}

CUevent ComputeGate::record(CUstream stream) const {
  CUevent event = nullptr;
  if (driver_.cuEventCreate(&event, CU_EVENT_DEFAULT) != CUDA_SUCCESS) return nullptr;
  if (driver_.cuEventRecord(event, stream) != CUDA_SUCCESS) {
    destroy(event);
    return nullptr;
  }
  return event;
}

void ComputeGate::submitted(Admission admission, CUstream stream, GpuTimeAccount* account) {
  CUevent end = record(stream);
  if (end == nullptr) {
    // Without an end event the work cannot be metered: it is done as far as the gate knows.
    cancel(admission);
    return;
  }
  {
    std::lock_guard lock(mutex_);
    metered_.push_back(Metered{admission, end, account});
  }
  metering_.notify_all();
}

void ComputeGate::cancel(Admission admission) {
  destroy(admission.start);
  finish(admission.ticket, std::nullopt);
}

void ComputeGate::holdAtHost(TenantId tenant, bool held) {
  std::lock_guard lock(board_.mutex_);
  if (pieces_ != nullptr) {
    if (pieces_->heldAtHost == held) return;
    pieces_->heldAtHost = held;
    if (!held) pieces_->resumedNanos = nanosOf(Clock::now());
  }
  board_.policy_.holdAtHost(tenant, held);
  board_.changed_.notify();
}

double ComputeGate::finish(const GatePolicy::Ticket& ticket, std::optional<GatePolicy::Completion> completion) {
  std::lock_guard lock(board_.mutex_);
  double used = board_.policy_.finish(ticket, completion, completion ? completion->done : Clock::now());
  if (pieces_ != nullptr) {
    --pieces_->onGpu;
    pieces_->pendingSeconds = pieces_->onGpu == 0 ? 0 : std::max(0.0, pieces_->pendingSeconds - ticket.estimate);
    if (auto it = onGpuAdmitted_.find(nanosOf(ticket.admitted)); it != onGpuAdmitted_.end()) onGpuAdmitted_.erase(it);
    pieces_->oldestOnGpuNanos = onGpuAdmitted_.empty() ? 0 : *onGpuAdmitted_.begin();
  }
  board_.changed_.notify();
  return used;
}

std::optional<double> ComputeGate::elapsedSeconds(CUevent start, CUevent end) const {
  if (start == nullptr) return std::nullopt;
  float milliseconds = 0;
  auto elapsed = driver_.cuEventElapsedTime_v2 != nullptr ? driver_.cuEventElapsedTime_v2 : driver_.cuEventElapsedTime;
  if (elapsed == nullptr || elapsed(&milliseconds, start, end) != CUDA_SUCCESS) return std::nullopt;
  return static_cast<double>(milliseconds) * 1e-3;
}

void ComputeGate::destroy(CUevent event) const {
  if (event != nullptr) driver_.cuEventDestroy_v2(event);
}

void ComputeGate::runMeter() {
  std::unique_lock lock(mutex_);
  for (;;) {
    metering_.wait(lock, [&] { return stopping_ || !metered_.empty(); });
    if (metered_.empty()) return;  // stopping
    Metered work = metered_.front();
    lock.unlock();
    driver_.cuEventSynchronize(work.end);  // the only wait outside the lock
    GatePolicy::Completion completion{Clock::now(), elapsedSeconds(work.admission.start, work.end)};
    destroy(work.admission.start);
    destroy(work.end);
    double used = finish(work.admission.ticket, completion);
    if (work.account != nullptr) {
      work.account->nanos.fetch_add(static_cast<std::uint64_t>(used * 1e9), std::memory_order_relaxed);
    }
    lock.lock();
    metered_.pop_front();
  }
}

}  // namespace fastgpu::scheduler
