#include "scheduler/compute_gate.h"

namespace fastgpu::scheduler {

ComputeGate::ComputeGate(const cudaabi::DriverTable& driver) : driver_(driver) {
  meter_ = std::thread([this] { runMeter(); });
}

ComputeGate::~ComputeGate() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  meter_.join();
}

ComputeGate::TenantId ComputeGate::addTenant(TenantConfig config) {
  std::lock_guard lock(mutex_);
  return policy_.addTenant(std::move(config), Clock::now());
}

void ComputeGate::updateTenant(TenantId tenant, TenantConfig config) {
  {
    std::lock_guard lock(mutex_);
    policy_.updateTenant(tenant, std::move(config), Clock::now());
  }
  changed_.notify_all();
}

ComputeGate::Admission ComputeGate::admit(TenantId tenant, CUstream stream) {
  Admission admission;
  {
    std::unique_lock lock(mutex_);
    policy_.arrive(tenant, Clock::now());
    for (;;) {
      Clock::time_point now = Clock::now();
      if (policy_.mayAdmit(tenant, now)) {
        admission.ticket = policy_.admit(tenant, now);
        break;
      }
      // Woken by every completion and change; some refusals end by themselves (a cap's bucket
      // refills, an anticipation window closes), and those say when.
      if (auto recheck = policy_.recheckAt(tenant, now)) {
        changed_.wait_until(lock, *recheck);
      } else {
        changed_.wait(lock);
      }
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

void ComputeGate::submitted(Admission admission, CUstream stream, std::shared_ptr<GpuTimeAccount> account) {
  CUevent end = record(stream);
  if (end == nullptr) {
    // Without an end event the work cannot be metered: it is done as far as the gate knows.
    cancel(admission);
    return;
  }
  {
    std::lock_guard lock(mutex_);
    metered_.push_back(Metered{admission, end, std::move(account)});
  }
  changed_.notify_all();
}

void ComputeGate::cancel(Admission admission) {
  destroy(admission.start);
  {
    std::lock_guard lock(mutex_);
    policy_.finish(admission.ticket, std::nullopt, Clock::now());
  }
  changed_.notify_all();
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
    changed_.wait(lock, [&] { return stopping_ || !metered_.empty(); });
    if (metered_.empty()) return;  // stopping
    Metered work = metered_.front();
    lock.unlock();
    driver_.cuEventSynchronize(work.end);  // the only wait outside the lock
    GatePolicy::Completion completion{Clock::now(), elapsedSeconds(work.admission.start, work.end)};
    destroy(work.admission.start);
    destroy(work.end);
    lock.lock();
    metered_.pop_front();
    double used = policy_.finish(work.admission.ticket, completion, completion.done);
    if (work.account) {
      work.account->nanos.fetch_add(static_cast<std::uint64_t>(used * 1e9), std::memory_order_relaxed);
    }
    changed_.notify_all();
  }
}

double ComputeGate::gpuSeconds(TenantId tenant) const {
  std::lock_guard lock(mutex_);
  return policy_.chargedSeconds(tenant);
}

}  // namespace fastgpu::scheduler
