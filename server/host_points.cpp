#include "server/host_points.h"

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>

namespace fastgpu::server {

struct HostPoints::Shared {
  std::uint32_t serial = 0;  // the session's, in the node data's high half
  std::mutex mutex;
  std::condition_variable changed;
  bool abandoned = false;
  std::deque<Event> reached;                // reached, not yet taken by a wait
  std::map<std::uint64_t, bool> held;       // instance -> released
  std::uint64_t nextInstance = 1;
  std::set<std::uint32_t> pending;          // launched, marker not yet run
  std::set<std::uint32_t> done;             // marker ran, not yet waited for
  std::function<void(bool)> heldChanged;

  // Runs on a driver thread: holds the replay until released.
  void reach(std::uint32_t point) {
    std::unique_lock lock(mutex);
    if (abandoned) return;
    std::uint64_t instance = nextInstance++;
    reached.push_back(Event{false, point, instance});
    if (held.empty() && heldChanged) heldChanged(true);
    held[instance] = false;
    changed.notify_all();
    changed.wait(lock, [&] { return abandoned || held[instance]; });
    held.erase(instance);
    if (held.empty() && heldChanged) heldChanged(false);
  }
  void finish(std::uint32_t launch) {
    std::lock_guard lock(mutex);
    if (pending.erase(launch) > 0) done.insert(launch);
    changed.notify_all();
  }
};

namespace {

// The sessions of this process whose nodes may run, by serial. Never destroyed: the driver's
// threads may run a node while the process exits.
struct Registry {
  std::mutex mutex;
  std::uint32_t nextSerial = 1;
  std::map<std::uint32_t, std::weak_ptr<HostPoints::Shared>> sessions;
};
Registry& registry() {
  static auto* instance = new Registry;
  return *instance;
}

std::shared_ptr<HostPoints::Shared> sessionOf(void* data) {
  auto serial = static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(data) >> 32);
  Registry& all = registry();
  std::lock_guard lock(all.mutex);
  auto it = all.sessions.find(serial);
  return it == all.sessions.end() ? nullptr : it->second.lock();
}

std::uint32_t lowHalf(void* data) { return static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(data)); }

void* dataOf(std::uint32_t serial, std::uint32_t value) {
  return reinterpret_cast<void*>((static_cast<std::uintptr_t>(serial) << 32) | value);
}

void pointReached(void* data) {
  if (auto session = sessionOf(data)) session->reach(lowHalf(data));
}

void launchFinished(void* data) {
  if (auto session = sessionOf(data)) session->finish(lowHalf(data));
}

}  // namespace

HostPoints::HostPoints() : shared_(std::make_shared<Shared>()) {
  Registry& all = registry();
  std::lock_guard lock(all.mutex);
  // Serial 0 is never used, so no node data of a session is null.
  do {
    shared_->serial = all.nextSerial++;
  } while (shared_->serial == 0 || all.sessions.count(shared_->serial) > 0);
  all.sessions[shared_->serial] = shared_;
}

HostPoints::~HostPoints() {
  abandon();
  Registry& all = registry();
  std::lock_guard lock(all.mutex);
  all.sessions.erase(shared_->serial);
}

CUhostFn HostPoints::pointFunction() { return pointReached; }

void* HostPoints::pointData(std::uint32_t point) const { return dataOf(shared_->serial, point); }

std::optional<std::uint32_t> HostPoints::pointOf(CUhostFn function, void* data) const {
  if (function != pointReached || reinterpret_cast<std::uintptr_t>(data) >> 32 != shared_->serial) return std::nullopt;
  return lowHalf(data);
}

Status HostPoints::beginLaunch(std::uint32_t launch) {
  std::lock_guard lock(shared_->mutex);
  if (shared_->abandoned) return Status(CUDA_ERROR_ILLEGAL_STATE, "the session is ending");
  if (launch == 0 || shared_->pending.count(launch) > 0 || shared_->done.count(launch) > 0) {
    return Status(CUDA_ERROR_INVALID_VALUE, "the launch's serial is 0 or already in use");
  }
  if (shared_->pending.size() + shared_->done.size() >= kMaxLaunchesInFlight) {
    return Status(CUDA_ERROR_OUT_OF_MEMORY, "too many graph launches with host work are in flight");
  }
  shared_->pending.insert(launch);
  return Status::ok();
}

CUhostFn HostPoints::launchDoneFunction() { return launchFinished; }

void* HostPoints::launchData(std::uint32_t launch) const { return dataOf(shared_->serial, launch); }

void HostPoints::launchDone(std::uint32_t launch) { shared_->finish(launch); }

void HostPoints::forgetLaunch(std::uint32_t launch) {
  std::lock_guard lock(shared_->mutex);
  shared_->pending.erase(launch);
  shared_->done.erase(launch);
}

Result<std::optional<HostPoints::Event>> HostPoints::wait(std::uint32_t launch, std::chrono::milliseconds timeout) {
  std::unique_lock lock(shared_->mutex);
  Shared& s = *shared_;
  if (s.pending.count(launch) == 0 && s.done.count(launch) == 0) {
    return Status(CUDA_ERROR_INVALID_VALUE, "no such graph launch with host work in flight");
  }
  s.changed.wait_for(lock, timeout, [&] { return s.abandoned || s.done.count(launch) > 0 || !s.reached.empty(); });
  if (s.abandoned) return Status(CUDA_ERROR_ILLEGAL_STATE, "the session is ending");
  if (s.done.erase(launch) > 0) return std::optional<Event>(Event{true, 0, 0});
  if (s.reached.empty()) return std::optional<Event>();
  Event event = s.reached.front();
  s.reached.pop_front();
  return std::optional<Event>(event);
}

Status HostPoints::release(std::uint64_t instance) {
  std::lock_guard lock(shared_->mutex);
  auto it = shared_->held.find(instance);
  if (it == shared_->held.end() || it->second) return Status(CUDA_ERROR_INVALID_VALUE, "no such host point is held");
  it->second = true;
  shared_->changed.notify_all();
  return Status::ok();
}

void HostPoints::onHeld(std::function<void(bool held)> held) {
  std::lock_guard lock(shared_->mutex);
  shared_->heldChanged = std::move(held);
}

bool HostPoints::anyHeld() const {
  std::lock_guard lock(shared_->mutex);
  return !shared_->held.empty();
}

void HostPoints::abandon() {
  std::lock_guard lock(shared_->mutex);
  shared_->abandoned = true;
  shared_->changed.notify_all();
}

}  // namespace fastgpu::server
