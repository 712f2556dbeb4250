#include "interposer/host_point_launches.h"

#include <algorithm>

namespace fastgpu::interposer {
namespace {

bool copiesToHere(const HostEffect& effect) { return effect.kind == HostEffect::Kind::kCopyToHost; }

}  // namespace

std::uint32_t HostPointLaunches::nextPoint() {
  std::lock_guard lock(mutex_);
  if (++nextPoint_ == 0) ++nextPoint_;
  return nextPoint_;
}

std::uint32_t HostPointLaunches::begin(std::shared_ptr<const CapturedGraph> record) {
  std::unique_lock lock(mutex_);
  ended_.wait(lock, [&] { return calls_ == 0 && inFlight_.empty(); });
  do {
    if (++nextLaunch_ == 0) ++nextLaunch_;
  } while (inFlight_.count(nextLaunch_) > 0);
  inFlight_[nextLaunch_] = InFlight{std::move(record), {}, std::this_thread::get_id()};
  return nextLaunch_;
}

HostPointLaunches::PointWork HostPointLaunches::reached(std::uint32_t point) {
  std::lock_guard lock(mutex_);
  PointWork work;
  for (auto& [serial, launch] : inFlight_) {
    const HostEffects& effects = launch.record->effects;
    auto function = std::find_if(effects.begin(), effects.end(), [&](const HostEffect& effect) {
      return effect.kind == HostEffect::Kind::kHostFunction && effect.point == point;
    });
    if (function == effects.end()) continue;
    work.function = *function;
    auto [first, last] = launch.record->pointCopies.equal_range(point);
    for (auto it = first; it != last; ++it) {
      for (const HostEffect& effect : effects) {
        if (effect.staging != it->second) continue;
        if (effect.kind == HostEffect::Kind::kCopyFromHost) work.refills.push_back(effect);
        if (copiesToHere(effect) && launch.delivered.insert(effect.staging).second) work.copies.push_back(effect);
      }
    }
    break;
  }
  return work;
}

std::vector<HostEffect> HostPointLaunches::end(std::uint32_t launch) {
  std::vector<HostEffect> left;
  {
    std::lock_guard lock(mutex_);
    auto it = inFlight_.find(launch);
    if (it == inFlight_.end()) return left;
    for (const HostEffect& effect : it->second.record->effects) {
      if (copiesToHere(effect) && it->second.delivered.count(effect.staging) == 0) left.push_back(effect);
    }
    inFlight_.erase(it);
  }
  ended_.notify_all();
  return left;
}

bool HostPointLaunches::launchingHere() const {
  auto self = std::this_thread::get_id();
  return std::any_of(inFlight_.begin(), inFlight_.end(), [&](const auto& entry) { return entry.second.thread == self; });
}

HostPointLaunches::CallTurn HostPointLaunches::callTurn() {
  std::unique_lock lock(mutex_);
  if (launchingHere()) return CallTurn(nullptr);
  ended_.wait(lock, [&] { return inFlight_.empty(); });
  ++calls_;
  return CallTurn(this);
}

HostPointLaunches::CallTurn::~CallTurn() {
  if (owner_ == nullptr) return;
  {
    std::lock_guard lock(owner_->mutex_);
    --owner_->calls_;
  }
  owner_->ended_.notify_all();
}

}  // namespace fastgpu::interposer
