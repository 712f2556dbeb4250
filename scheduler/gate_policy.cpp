#include "scheduler/gate_policy.h"

#include <algorithm>

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

double seconds(GatePolicy::Clock::duration d) { return std::chrono::duration<double>(d).count(); }

GatePolicy::TimePoint after(GatePolicy::TimePoint from, double secondsLater) {
  return from + std::chrono::duration_cast<GatePolicy::Clock::duration>(std::chrono::duration<double>(secondsLater));
}

}  // namespace

GatePolicy::Tenant& GatePolicy::at(TenantId id) {
  FASTGPU_CHECK(id >= 0 && id < tenantEnd_ && tenants_[static_cast<std::size_t>(id)].inUse, "tenant={} of {}", id,
                tenantEnd_);
  return tenants_[static_cast<std::size_t>(id)];
}

const GatePolicy::Tenant& GatePolicy::at(TenantId id) const {
  FASTGPU_CHECK(id >= 0 && id < tenantEnd_ && tenants_[static_cast<std::size_t>(id)].inUse, "tenant={} of {}", id,
                tenantEnd_);
  return tenants_[static_cast<std::size_t>(id)];
}

std::optional<GatePolicy::TenantId> GatePolicy::addTenant(TenantConfig config, TimePoint now) {
  int place = 0;
  while (place < tenantEnd_ && tenants_[static_cast<std::size_t>(place)].inUse) ++place;
  if (place == kMaxTenants) return std::nullopt;
  tenantEnd_ = std::max(tenantEnd_, place + 1);
  Tenant& tenant = tenants_[static_cast<std::size_t>(place)];
  tenant = Tenant{};
  tenant.inUse = true;
  tenant.config = config;
  tenant.budgetUpdated = now;
  tenant.idleSince = now;
  if (tenant.config.capFraction) tenant.capBudget = *tenant.config.capFraction * kCapBurstSeconds;
  return place;
}

void GatePolicy::removeTenant(TenantId id) {
  Tenant& tenant = at(id);
  FASTGPU_CHECK(tenant.waiting == 0 && tenant.onGpu == 0, "tenant={} removed with work", id);
  tenant.inUse = false;
}

int GatePolicy::tenantCount() const {
  int count = 0;
  for (int i = 0; i < tenantEnd_; ++i) count += tenants_[static_cast<std::size_t>(i)].inUse ? 1 : 0;
  return count;
}

void GatePolicy::updateTenant(TenantId id, TenantConfig config, TimePoint now) {
  Tenant& tenant = at(id);
  refill(tenant, now);
  tenant.config = config;
  tenant.budgetUpdated = now;
  if (tenant.config.capFraction) {
    tenant.capBudget = std::min(tenant.capBudget, *tenant.config.capFraction * kCapBurstSeconds);
  }
}

void GatePolicy::refill(Tenant& tenant, TimePoint now) {
  if (!tenant.config.capFraction || now <= tenant.budgetUpdated) return;
  double cap = *tenant.config.capFraction;
  tenant.capBudget = std::min(cap * kCapBurstSeconds, tenant.capBudget + cap * seconds(now - tenant.budgetUpdated));
  tenant.budgetUpdated = now;
}

bool GatePolicy::outOfBudget(Tenant& tenant, TimePoint now) {
  if (!tenant.config.capFraction) return false;
  refill(tenant, now);
  // Work already on the GPU will be charged: it spends the budget in advance.
  return tenant.capBudget - tenant.pendingSeconds <= 0;
}

double GatePolicy::anticipationSeconds(const Tenant& tenant) const {
  if (tenant.comeBackSeconds > kMaxGapToBusyRatio * tenant.busySeconds) return 0;  // mostly thinking
  double window = 2 * tenant.comeBackSeconds + kAnticipationSlackSeconds;
  return window > kMaxAnticipationSeconds ? 0 : window;
}

bool GatePolicy::wantsGpu(const Tenant& tenant, TimePoint now) const {
  if (tenant.waiting > 0 || (tenant.onGpu > 0 && tenant.heldAtHost == 0)) return true;
  return tenant.everActive && seconds(now - tenant.idleSince) < anticipationSeconds(tenant);
}

bool GatePolicy::goesFirst(const Tenant& other, TenantId otherId, const Tenant& self, TenantId selfId) {
  int theirs = rank(other.config.priority), mine = rank(self.config.priority);
  if (theirs != mine) return theirs < mine;
  // Virtual time including what each has on the GPU now (charged when it completes).
  double otherTime = other.virtualTime + other.pendingSeconds / other.config.weight;
  double selfTime = self.virtualTime + self.pendingSeconds / self.config.weight;
  return otherTime < selfTime || (otherTime == selfTime && otherId < selfId);
}

void GatePolicy::comeBack(Tenant& tenant, TimePoint now) {
  bool longPause = !tenant.everActive;
  if (tenant.everActive) {
    double gap = seconds(now - tenant.idleSince);
    longPause = gap > kIdleForgetSeconds;
    tenant.comeBackSeconds = 0.75 * tenant.comeBackSeconds + 0.25 * std::min(gap, 2 * kMaxAnticipationSeconds);
  }
  tenant.everActive = true;
  tenant.busySince = now;
  // Back after a real pause (or new): no credit for the time it was idle.
  if (longPause) tenant.virtualTime = std::max(tenant.virtualTime, virtualNow_);
}

void GatePolicy::arrive(TenantId id, TimePoint now) {
  Tenant& tenant = at(id);
  if (tenant.waiting == 0 && tenant.onGpu == 0) comeBack(tenant, now);
  ++tenant.waiting;
}

bool GatePolicy::mayAdmit(TenantId id, TimePoint now) {
  Tenant& self = at(id);
  if (outOfBudget(self, now)) return false;
  // Bound the work on the GPU, so that the gate stays in control (with a margin for rounding);
  // the pieces of tenants held at the host do not count.
  int onGpu = onGpuCount_;
  double onGpuEstimate = onGpuEstimate_;
  for (int i = 0; i < tenantEnd_; ++i) {
    const Tenant& held = tenants_[static_cast<std::size_t>(i)];
    if (!held.inUse || held.heldAtHost == 0) continue;
    onGpu -= held.onGpu;
    onGpuEstimate -= held.pendingSeconds;
  }
  if (onGpu > 0 && onGpuEstimate + self.estimate > kQueueBudgetSeconds * (1 + 1e-9)) return false;
  for (int i = 0; i < tenantEnd_; ++i) {
    Tenant& other = tenants_[static_cast<std::size_t>(i)];
    TenantId otherId = i;
    if (otherId == id || !other.inUse || !wantsGpu(other, now)) continue;
    if (outOfBudget(other, now)) continue;  // cannot go now anyway
    if (goesFirst(other, otherId, self, id)) return false;
  }
  return true;
}

GatePolicy::Ticket GatePolicy::admit(TenantId id, TimePoint now) {
  Tenant& tenant = at(id);
  FASTGPU_CHECK(tenant.waiting > 0, "tenant={} admitted without a waiting piece", id);
  --tenant.waiting;
  bool behindOwnWork = tenant.onGpu > 0;
  ++tenant.onGpu;
  tenant.pendingSeconds += tenant.estimate;
  ++onGpuCount_;
  onGpuEstimate_ += tenant.estimate;
  virtualNow_ = std::max(virtualNow_, tenant.virtualTime);
  return Ticket{id, tenant.estimate, now, behindOwnWork};
}

double GatePolicy::finish(const Ticket& ticket, std::optional<Completion> completion, TimePoint now) {
  Tenant& tenant = at(ticket.tenant);
  FASTGPU_CHECK(tenant.onGpu > 0 && onGpuCount_ > 0, "tenant={} finished a piece it did not have", ticket.tenant);
  --tenant.onGpu;
  --onGpuCount_;
  tenant.pendingSeconds = std::max(0.0, tenant.pendingSeconds - ticket.estimate);
  onGpuEstimate_ = onGpuCount_ == 0 ? 0 : std::max(0.0, onGpuEstimate_ - ticket.estimate);
  double used = 0;
  if (completion) {
    TimePoint from = std::max(ticket.admitted, lastCompletion_.value_or(ticket.admitted));
    used = std::max(0.0, seconds(completion->done - from));
    if (completion->gpuSeconds) used = std::min(used, std::max(0.0, *completion->gpuSeconds));
    lastCompletion_ = std::max(completion->done, lastCompletion_.value_or(completion->done));
    tenant.charged += used;
    tenant.virtualTime += used / tenant.config.weight;
    if (tenant.config.capFraction) {
      refill(tenant, completion->done);
      tenant.capBudget -= used;
    }
    tenant.estimate = tenant.measured ? 0.8 * tenant.estimate + 0.2 * used : used;
    tenant.measured = true;
  }
  maybeIdle(tenant, now);
  return used;
}

void GatePolicy::maybeIdle(Tenant& tenant, TimePoint now) {
  if (tenant.waiting != 0 || tenant.onGpu != 0) return;
  tenant.idleSince = now;
  tenant.busySeconds = 0.75 * tenant.busySeconds + 0.25 * std::max(0.0, seconds(now - tenant.busySince));
}

void GatePolicy::holdAtHost(TenantId id, bool held) {
  Tenant& tenant = at(id);
  tenant.heldAtHost = held ? tenant.heldAtHost + 1 : std::max(0, tenant.heldAtHost - 1);
}

void GatePolicy::abandon(TenantId id, int waiting, int onGpu, double pendingSeconds, TimePoint now) {
  Tenant& tenant = at(id);
  FASTGPU_CHECK(waiting >= 0 && onGpu >= 0 && waiting <= tenant.waiting && onGpu <= tenant.onGpu && onGpu <= onGpuCount_,
                "tenant={} abandons {} waiting and {} on the GPU of {} and {}", id, waiting, onGpu, tenant.waiting,
                tenant.onGpu);
  if (waiting == 0 && onGpu == 0) return;
  tenant.waiting -= waiting;
  tenant.onGpu -= onGpu;
  onGpuCount_ -= onGpu;
  tenant.pendingSeconds = std::max(0.0, tenant.pendingSeconds - pendingSeconds);
  onGpuEstimate_ = onGpuCount_ == 0 ? 0 : std::max(0.0, onGpuEstimate_ - pendingSeconds);
  maybeIdle(tenant, now);
}

std::optional<GatePolicy::TimePoint> GatePolicy::recheckAt(TenantId id, TimePoint now) {
  std::optional<TimePoint> earliest;
  auto consider = [&](TimePoint when) { earliest = earliest ? std::min(*earliest, when) : when; };
  Tenant& self = at(id);
  if (outOfBudget(self, now)) {
    // When the bucket has earned back a little.
    consider(after(now, (self.pendingSeconds - self.capBudget + 1e-4) / *self.config.capFraction));
  }
  for (int i = 0; i < tenantEnd_; ++i) {
    const Tenant& other = tenants_[static_cast<std::size_t>(i)];
    TenantId otherId = i;
    if (otherId == id || !other.inUse || other.waiting > 0 || other.onGpu > 0 || !wantsGpu(other, now)) continue;
    // (A microsecond late, so that the window has surely ended when we look.)
    if (goesFirst(other, otherId, self, id)) consider(after(other.idleSince, anticipationSeconds(other) + 1e-6));
  }
  return earliest;
}

double GatePolicy::chargedSeconds(TenantId id) const { return at(id).charged; }

}  // namespace fastgpu::scheduler
