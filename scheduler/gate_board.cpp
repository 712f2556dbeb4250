#include "scheduler/gate_board.h"

namespace fastgpu::scheduler {

std::optional<GateBoard::TenantId> GateBoard::addTenant(TenantConfig config) {
  std::lock_guard lock(mutex_);
  return policy_.addTenant(config, Clock::now());
}

void GateBoard::updateTenant(TenantId tenant, TenantConfig config) {
  std::lock_guard lock(mutex_);
  policy_.updateTenant(tenant, config, Clock::now());
  changed_.notify();
}

void GateBoard::removeTenant(TenantId tenant) {
  std::lock_guard lock(mutex_);
  policy_.removeTenant(tenant);
  changed_.notify();
}

void GateBoard::abandon(TenantId tenant, GatePieces& pieces) {
  std::lock_guard lock(mutex_);
  policy_.abandon(tenant, pieces.waiting, pieces.onGpu, pieces.pendingSeconds, Clock::now());
  if (pieces.heldAtHost) policy_.holdAtHost(tenant, false);
  pieces = GatePieces{};
  changed_.notify();
}

double GateBoard::gpuSeconds(TenantId tenant) const {
  std::lock_guard lock(mutex_);
  return policy_.chargedSeconds(tenant);
}

std::optional<double> GateBoard::runningSeconds(const GatePieces& pieces) const {
  std::lock_guard lock(mutex_);
  if (pieces.onGpu == 0 || pieces.oldestOnGpuNanos == 0 || pieces.heldAtHost) return std::nullopt;
  Clock::time_point since{std::chrono::nanoseconds(std::max(pieces.oldestOnGpuNanos, pieces.resumedNanos))};
  if (auto completed = policy_.lastCompletion(); completed && *completed > since) since = *completed;
  return std::chrono::duration<double>(Clock::now() - since).count();
}

}  // namespace fastgpu::scheduler
