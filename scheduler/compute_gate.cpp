#include "scheduler/compute_gate.h"

#include <algorithm>
#include <limits>

#include "cudaabi/check.h"

namespace fastgpu::scheduler {
namespace {

int rank(Priority priority) {
  switch (priority) {
    case Priority::kHigh: return 0;
    case Priority::kNormal: return 1;
    case Priority::kLow: return 2;
  }
  return 1;
}

double seconds(ComputeGate::Clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

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
  Tenant tenant;
  tenant.config = std::move(config);
  if (tenant.config.capFraction) tenant.capBudget = *tenant.config.capFraction * kCapBurstSeconds;
  tenants_.push_back(std::move(tenant));
  admitted_.emplace_back();
  return static_cast<TenantId>(tenants_.size() - 1);
}

void ComputeGate::updateTenant(TenantId id, TenantConfig config) {
  std::lock_guard lock(mutex_);
  Tenant& tenant = tenants_[static_cast<std::size_t>(id)];
  refill(tenant, Clock::now());
  tenant.config = std::move(config);
  if (tenant.config.capFraction) tenant.capBudget = std::min(tenant.capBudget, *tenant.config.capFraction * kCapBurstSeconds);
  changed_.notify_all();
}

void ComputeGate::refill(Tenant& tenant, Clock::time_point now) {
  if (!tenant.config.capFraction) return;
  double cap = *tenant.config.capFraction;
  tenant.capBudget = std::min(cap * kCapBurstSeconds, tenant.capBudget + cap * seconds(now - tenant.budgetUpdated));
  tenant.budgetUpdated = now;
}

bool ComputeGate::mayAdmit(TenantId id, Clock::time_point now) {
  Tenant& self = tenants_[static_cast<std::size_t>(id)];
  refill(self, now);
  if (self.config.capFraction && self.capBudget <= 0) return false;
  // Bound the work on the GPU, so that the gate stays in control.
  if (inFlightCount_ > 0 && inFlightEstimate_ + self.estimate > kQueueBudgetMicros * 1e-6) return false;
  for (std::size_t i = 0; i < tenants_.size(); ++i) {
    Tenant& other = tenants_[i];
    if (static_cast<TenantId>(i) == id || other.waiting == 0) continue;
    refill(other, now);
    if (other.config.capFraction && other.capBudget <= 0) continue;  // cannot go now anyway
    int mine = rank(self.config.priority), theirs = rank(other.config.priority);
    if (theirs < mine) return false;  // a higher class waits
    if (theirs == mine && (other.virtualTime < self.virtualTime ||
                           (other.virtualTime == self.virtualTime && static_cast<TenantId>(i) < id))) {
      return false;  // its turn: less GPU time per unit of weight
    }
  }
  return true;
}

void ComputeGate::admit(TenantId id) {
  std::unique_lock lock(mutex_);
  Tenant& self = tenants_[static_cast<std::size_t>(id)];
  if (self.waiting == 0 && self.inFlight == 0 && seconds(Clock::now() - self.idleSince) > kIdleForgetSeconds) {
    // Busy again after a real pause: no credit for the time it was idle (the others' virtual
    // time moved on).
    double floor = std::numeric_limits<double>::max();
    for (const auto& other : tenants_) {
      if (&other != &self && (other.waiting > 0 || other.inFlight > 0)) floor = std::min(floor, other.virtualTime);
    }
    if (floor != std::numeric_limits<double>::max()) self.virtualTime = std::max(self.virtualTime, floor);
  }
  ++self.waiting;
  for (;;) {
    Clock::time_point now = Clock::now();
    if (mayAdmit(id, now)) break;
    if (self.config.capFraction && self.capBudget <= 0) {
      // Wait until the bucket has earned back a little.
      double wait = (-self.capBudget + 1e-4) / *self.config.capFraction;
      changed_.wait_until(lock, now + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(wait)));
    } else {
      changed_.wait(lock);
    }
  }
  --self.waiting;
  ++self.inFlight;
  ++inFlightCount_;
  inFlightEstimate_ += self.estimate;
  admitted_[static_cast<std::size_t>(id)] = Admission{Clock::now(), self.estimate};
}

void ComputeGate::submitted(TenantId id, CUstream stream, std::shared_ptr<GpuTimeAccount> account) {
  CUevent event = nullptr;
  bool recorded = driver_.cuEventCreate(&event, CU_EVENT_DISABLE_TIMING) == CUDA_SUCCESS &&
                  driver_.cuEventRecord(event, stream) == CUDA_SUCCESS;
  std::lock_guard lock(mutex_);
  Tenant& self = tenants_[static_cast<std::size_t>(id)];
  const Admission& admission = admitted_[static_cast<std::size_t>(id)];
  if (!recorded) {
    // Without an event the work cannot be metered: treat it as done now.
    if (event != nullptr) driver_.cuEventDestroy_v2(event);
    finishLocked(self, admission.estimate, Clock::now());
    return;
  }
  inFlight_.push_back(InFlight{id, event, admission.at, admission.estimate, std::move(account)});
  changed_.notify_all();
}

void ComputeGate::cancel(TenantId id) {
  std::lock_guard lock(mutex_);
  finishLocked(tenants_[static_cast<std::size_t>(id)], admitted_[static_cast<std::size_t>(id)].estimate,
               Clock::now());
}

void ComputeGate::finishLocked(Tenant& tenant, double estimate, Clock::time_point when) {
  --tenant.inFlight;
  --inFlightCount_;
  if (tenant.waiting == 0 && tenant.inFlight == 0) tenant.idleSince = when;
  inFlightEstimate_ = std::max(0.0, inFlightEstimate_ - estimate);
  changed_.notify_all();
}

void ComputeGate::runMeter() {
  std::unique_lock lock(mutex_);
  for (;;) {
    changed_.wait(lock, [&] { return stopping_ || !inFlight_.empty(); });
    if (inFlight_.empty()) return;  // stopping
    InFlight work = inFlight_.front();
    lock.unlock();
    driver_.cuEventSynchronize(work.event);  // the only wait outside the lock
    Clock::time_point done = Clock::now();
    driver_.cuEventDestroy_v2(work.event);
    lock.lock();
    inFlight_.pop_front();
    Tenant& tenant = tenants_[static_cast<std::size_t>(work.tenant)];
    double used = seconds(done - std::max(work.admitted, lastCompletion_));
    lastCompletion_ = done;
    tenant.charged += used;
    if (work.account) work.account->nanos.fetch_add(static_cast<std::uint64_t>(used * 1e9), std::memory_order_relaxed);
    tenant.virtualTime += used / tenant.config.weight;
    if (tenant.config.capFraction) {
      refill(tenant, done);
      tenant.capBudget -= used;
    }
    tenant.estimate = tenant.measured ? 0.8 * tenant.estimate + 0.2 * used : used;
    tenant.measured = true;
    finishLocked(tenant, work.estimate, done);
  }
}

double ComputeGate::gpuSeconds(TenantId id) const {
  std::lock_guard lock(mutex_);
  return tenants_[static_cast<std::size_t>(id)].charged;
}

}  // namespace fastgpu::scheduler
