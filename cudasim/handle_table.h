// Opaque handles for cudasim's driver objects.
//
// A handle (CUcontext, CUstream, ...) is a number, never a pointer: its value encodes the
// object's kind and a serial that is never reused, so a forged, stale or wrong-kind handle is
// found out by lookup instead of crashing the process. Thread-safe; lookups take a shared lock.
#pragma once

#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <unordered_map>
#include <vector>

namespace fastgpu::sim {

enum class HandleKind : std::uint8_t {
  kContext = 1,
  kStream,
  kEvent,
  kModule,
  kFunction,
  kLibrary,
  kKernel,
  kGraph,
  kGraphNode,
  kGraphExec,
  kLink,
};

class HandleObject {
 public:
  virtual ~HandleObject() = default;
  std::uint64_t handle() const { return handle_; }

 private:
  friend class HandleTable;
  std::uint64_t handle_ = 0;
};

class HandleTable {
 public:
  // Registers `object` and returns its new handle value.
  std::uint64_t add(HandleKind kind, std::shared_ptr<HandleObject> object) {
    std::unique_lock lock(mutex_);
    std::uint64_t value = (static_cast<std::uint64_t>(kind) << 40) | (++serial_ << 4);
    object->handle_ = value;
    objects_[value] = std::move(object);
    return value;
  }

  // The live object of that kind, or null.
  template <typename T>
  std::shared_ptr<T> find(HandleKind kind, const void* handle) const {
    auto value = reinterpret_cast<std::uintptr_t>(handle);
    if ((value >> 40) != static_cast<std::uint64_t>(kind)) return nullptr;
    std::shared_lock lock(mutex_);
    auto it = objects_.find(value);
    return it == objects_.end() ? nullptr : std::static_pointer_cast<T>(it->second);
  }

  // Forgets a handle; the object lives on while others hold it.
  void remove(std::uint64_t value) {
    std::unique_lock lock(mutex_);
    objects_.erase(value);
  }

  static HandleKind kindOf(const void* handle) {
    return static_cast<HandleKind>(reinterpret_cast<std::uintptr_t>(handle) >> 40);
  }

 private:
  mutable std::shared_mutex mutex_;
  std::uint64_t serial_ = 0;
  std::unordered_map<std::uint64_t, std::shared_ptr<HandleObject>> objects_;
};

template <typename Handle>
Handle toHandle(std::uint64_t value) {
  return reinterpret_cast<Handle>(static_cast<std::uintptr_t>(value));
}

}  // namespace fastgpu::sim
