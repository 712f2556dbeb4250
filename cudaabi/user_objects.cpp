#include "cudaabi/user_objects.h"

#include <climits>
#include <system_error>
#include <thread>

namespace fastgpu::cudaabi {
namespace {

// Handles are ids in a range of their own, so that a stray pointer is unlikely to name one.
constexpr std::uint64_t kHandleBase = 0x7553'0000'0000'0000ULL;  // "uS"

std::uint64_t idOf(CUuserObject object) {
  auto value = reinterpret_cast<std::uint64_t>(object);
  return value > kHandleBase ? value - kHandleBase : 0;
}

bool validCount(unsigned count) { return count > 0 && count <= static_cast<unsigned>(INT_MAX); }

}  // namespace

UserObjects::UserObjects() : state_(std::make_shared<State>()) {}

CUresult UserObjects::create(CUuserObject* out, void* pointer, CUhostFn destroy, unsigned initialCount,
                             unsigned flags) {
  if (out == nullptr || destroy == nullptr || !validCount(initialCount) || flags != CU_USER_OBJECT_NO_DESTRUCTOR_SYNC) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  std::lock_guard lock(state_->mutex);
  std::uint64_t id = state_->next++;
  state_->objects[id] = Object{pointer, destroy, initialCount};
  *out = reinterpret_cast<CUuserObject>(kHandleBase + id);
  return CUDA_SUCCESS;
}

CUresult UserObjects::retain(CUuserObject object, unsigned count) {
  std::lock_guard lock(state_->mutex);
  auto found = state_->objects.find(idOf(object));
  if (found == state_->objects.end() || !validCount(count)) return CUDA_ERROR_INVALID_VALUE;
  found->second.count += count;
  return CUDA_SUCCESS;
}

CUresult UserObjects::release(CUuserObject object, unsigned count) {
  std::lock_guard lock(state_->mutex);
  auto found = state_->objects.find(idOf(object));
  // Only the caller's own references: those graphs own go with their graphs.
  if (found == state_->objects.end() || !validCount(count) || count > callerCountLocked(*state_, found->first)) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  releaseLocked(*state_, found->first, count);
  return CUDA_SUCCESS;
}

CUresult UserObjects::ownerRetain(std::uint64_t owner, CUuserObject object, unsigned count, unsigned flags) {
  std::lock_guard lock(state_->mutex);
  auto found = state_->objects.find(idOf(object));
  if (found == state_->objects.end() || !validCount(count) || (flags & ~CU_GRAPH_USER_OBJECT_MOVE) != 0) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  // Moved references were the caller's: the total stays (the caller must have had them).
  if ((flags & CU_GRAPH_USER_OBJECT_MOVE) != 0) {
    if (count > callerCountLocked(*state_, found->first)) return CUDA_ERROR_INVALID_VALUE;
  } else {
    found->second.count += count;
  }
  state_->owners[owner][found->first] += count;
  return CUDA_SUCCESS;
}

CUresult UserObjects::ownerRelease(std::uint64_t owner, CUuserObject object, unsigned count) {
  std::lock_guard lock(state_->mutex);
  auto held = state_->owners.find(owner);
  std::uint64_t id = idOf(object);
  if (held == state_->owners.end() || !validCount(count)) return CUDA_ERROR_INVALID_VALUE;
  auto references = held->second.find(id);
  if (references == held->second.end() || references->second < count) return CUDA_ERROR_INVALID_VALUE;
  references->second -= count;
  if (references->second == 0) held->second.erase(references);
  if (held->second.empty()) state_->owners.erase(held);
  releaseLocked(*state_, id, count);
  return CUDA_SUCCESS;
}

void UserObjects::copyOwner(std::uint64_t from, std::uint64_t to) {
  std::lock_guard lock(state_->mutex);
  std::map<std::uint64_t, std::uint64_t> copied;
  if (auto source = state_->owners.find(from); source != state_->owners.end()) copied = source->second;
  for (const auto& [object, count] : copied) state_->objects.at(object).count += count;
  dropLocked(*state_, to);  // after the new ones are counted: an object both hold lives on
  if (!copied.empty()) state_->owners[to] = std::move(copied);
}

void UserObjects::dropOwner(std::uint64_t owner) {
  std::lock_guard lock(state_->mutex);
  dropLocked(*state_, owner);
}

void UserObjects::dropOwnerAfter(std::uint64_t owner, std::function<void()> wait) {
  auto drop = [state = state_, owner, wait = std::move(wait)] {
    wait();
    std::lock_guard lock(state->mutex);
    dropLocked(*state, owner);
  };
  try {
    std::thread(drop).detach();
  } catch (const std::system_error&) {
    drop();
  }
}

bool UserObjects::holdsReferences(std::uint64_t owner) const {
  std::lock_guard lock(state_->mutex);
  return state_->owners.contains(owner);
}

std::uint64_t UserObjects::callerCountLocked(const State& state, std::uint64_t object) {
  std::uint64_t owned = 0;
  for (const auto& [owner, references] : state.owners) {
    if (auto held = references.find(object); held != references.end()) owned += held->second;
  }
  return state.objects.at(object).count - owned;
}

void UserObjects::dropLocked(State& state, std::uint64_t owner) {
  auto held = state.owners.find(owner);
  if (held == state.owners.end()) return;
  auto references = std::move(held->second);
  state.owners.erase(held);
  for (const auto& [object, count] : references) releaseLocked(state, object, count);
}

void UserObjects::releaseLocked(State& state, std::uint64_t object, std::uint64_t count) {
  auto found = state.objects.find(object);
  if (found == state.objects.end()) return;
  found->second.count -= count;
  if (found->second.count > 0) return;
  Object gone = found->second;
  state.objects.erase(found);
  try {
    std::thread([gone] { gone.destroy(gone.pointer); }).detach();
  } catch (const std::system_error&) {
    gone.destroy(gone.pointer);  // no thread to be had: late is worse than here
  }
}

}  // namespace fastgpu::cudaabi
